//! Field usage: which fields of which types a request asks for, so a deprecated field can be
//! removed once no client asks for it any more. The gate (see `gate`) walks the document
//! once with the schema's types (fragments spread; each field once however many list items
//! it will resolve for) and notes the fields in the request's stats when the operation is let
//! through; the HTTP layer counts them per client in `ogrom_graphql_field_usage_total`.
//!
//! A walk of the document rather than a hook on every resolved field: a resolve hook puts a
//! boxed future and two registry look-ups in front of every field of every list item, which
//! was a tenth of the gateway's CPU on a home feed.

use std::collections::HashSet;

use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::registry::{MetaTypeName, Registry};

use crate::observe::RequestStats;
use crate::observe::request::Fields;

/// Every field the operations of `document` select, as `(type it is selected on, field)`,
/// once each; introspection fields are left out.
pub fn selected_fields(
    registry: &Registry,
    document: &ExecutableDocument,
) -> Vec<(String, String)> {
    let mut walk = Walk {
        registry,
        document,
        fields: HashSet::new(),
        spread: HashSet::new(),
    };
    for (_, operation) in document.operations.iter() {
        let root = match operation.node.ty {
            async_graphql::parser::types::OperationType::Query => Some(&registry.query_type),
            async_graphql::parser::types::OperationType::Mutation => {
                registry.mutation_type.as_ref()
            }
            async_graphql::parser::types::OperationType::Subscription => {
                registry.subscription_type.as_ref()
            }
        };
        if let Some(root) = root {
            walk.selections(&operation.node.selection_set.node, root);
        }
    }
    walk.fields
        .into_iter()
        .map(|(parent, field)| (parent.to_owned(), field.to_owned()))
        .collect()
}

/// Notes `fields` (from `selected_fields`) as used by the request of `stats`.
pub fn note(stats: &RequestStats, fields: &Fields) {
    stats.use_fields(fields);
}

struct Walk<'a> {
    registry: &'a Registry,
    document: &'a ExecutableDocument,
    fields: HashSet<(&'a str, &'a str)>,
    /// Fragments already walked on a type: each is walked once, and a cycle ends.
    spread: HashSet<(&'a str, &'a str)>,
}

impl<'a> Walk<'a> {
    fn selections(&mut self, set: &'a SelectionSet, parent: &'a str) {
        for selection in &set.items {
            match &selection.node {
                Selection::Field(field) => {
                    let name = field.node.name.node.as_str();
                    if name.starts_with("__") {
                        continue;
                    }
                    self.fields.insert((parent, name));
                    let child = self
                        .registry
                        .types
                        .get(parent)
                        .and_then(|ty| ty.field_by_name(name))
                        .map(|meta| MetaTypeName::concrete_typename(&meta.ty));
                    if let Some(child) = child {
                        self.selections(&field.node.selection_set.node, child);
                    }
                }
                Selection::InlineFragment(fragment) => {
                    let on = fragment
                        .node
                        .type_condition
                        .as_ref()
                        .map_or(parent, |c| c.node.on.node.as_str());
                    self.selections(&fragment.node.selection_set.node, on);
                }
                Selection::FragmentSpread(spread) => {
                    let name = spread.node.fragment_name.node.as_str();
                    let Some(fragment) =
                        self.document.fragments.get(&spread.node.fragment_name.node)
                    else {
                        continue;
                    };
                    let on = fragment.node.type_condition.node.on.node.as_str();
                    if self.spread.insert((name, on)) {
                        self.selections(&fragment.node.selection_set.node, on);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::Metrics;

    /// The fields `query` is noted to use, sorted, as the API runs it (over empty sources),
    /// the same each time it is sent.
    fn used(query: &str) -> Vec<(String, String)> {
        use std::sync::Arc;

        use crate::core::{ApiConfig, RequestContext, Sources, build_schema};
        use crate::sources::memory::{MemoryCatalog, MemoryCommunity, MemoryOffers, MemorySearch};
        let catalog = Arc::new(MemoryCatalog::new(vec![], vec![], vec![], vec![]));
        let sources = Sources {
            search: Arc::new(MemorySearch::new(catalog.clone())),
            catalog,
            offers: Arc::new(MemoryOffers::default()),
            community: Arc::new(MemoryCommunity::default()),
        };
        let api = build_schema(sources, ApiConfig::default()).expect("the API builds");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let run = || {
            let stats = RequestStats::new(Metrics::default());
            let context = RequestContext {
                deadline: std::time::Instant::now() + std::time::Duration::from_secs(60),
                request_id: None,
                viewer: None,
                stats: stats.clone(),
                cost: None,
                tagged: false,
            };
            runtime.block_on(api.execute_with(async_graphql::Request::new(query), context));
            let mut fields = stats.fields_used().to_vec();
            fields.sort();
            fields
        };
        // The second time, a valid operation is let through without validation (see
        // `core::variables`): it uses the same fields.
        let first = run();
        assert_eq!(run(), first, "{query}");
        first
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(t, f)| ((*t).to_owned(), (*f).to_owned()))
            .collect()
    }

    #[test]
    fn fields_are_noted_on_the_types_they_are_selected_on_through_fragments() {
        let fields = used(
            "query { brands(first: 2) { edges { node { ...B } } } \
               node(id: \"x\") { id ... on Brand { slug } } __typename } \
             fragment B on Brand { name slug ...B2 } fragment B2 on Brand { name }",
        );
        assert_eq!(
            fields,
            pairs(&[
                ("Brand", "name"),
                ("Brand", "slug"),
                ("BrandConnection", "edges"),
                ("BrandEdge", "node"),
                ("Node", "id"),
                ("Query", "brands"),
                ("Query", "node"),
            ])
        );
    }

    #[test]
    fn a_refused_operation_uses_no_field() {
        // Unknown field, fragment cycle: validation refuses both, and nothing ran.
        for refused in [
            "query { nope { deeper } brands(first: 1) { edges { node { name } } } }",
            "query { brands(first: 1) { edges { node { ...A } } } } \
             fragment A on Brand { name ...A }",
        ] {
            assert_eq!(used(refused), Vec::new(), "{refused}");
        }
    }
}
