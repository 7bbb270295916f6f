//! What an operation asks for, read from its document before it runs: its requested cost
//! and its cache hint.
//!
//! **Cost.** A field costs its weight (1 unless `@cost(weight:)` says otherwise) plus what is
//! selected below it, times its list's size when it is sized (`@listSize`): the value of its
//! first slicing argument that is given (a number, or the length of a list of ids), else the
//! argument's default, else the assumed size. A negative size counts as 0, and the total is
//! capped, so a client-chosen size can neither overflow the limit check nor slip past it.
//! `__typename` is free. Fragments count where they are spread, for every type they may apply to, and `@skip` does
//! not lower a cost: what is checked is what the document could ask for.
//!
//! **Cache hint.** The hints of the types and fields selected, merged: the shortest non-zero
//! `maxAge`, and private if any is.

use std::cell::Cell;

use async_graphql::parser::types::{
    ExecutableDocument, Field, OperationDefinition, OperationType, Selection, SelectionSet,
};
use async_graphql::registry::Registry;
use async_graphql::{CacheControl, Value as ConstValue, Variables};
use async_graphql_value::Value;

use crate::core::document::{operation, parse_literal};
use crate::core::schema::Hints;

/// The highest cost counted.
const CAP: u64 = u32::MAX as u64;

/// How deep fragments are followed; validation refuses cycles, the bound keeps this finite.
const MAX_SPREADS: usize = 64;

/// What an operation asks for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Requested {
    /// The requested cost, in points, capped at `u32::MAX`.
    pub cost: u64,
    /// The merged cache hint of everything selected.
    pub cache_control: CacheControl,
    /// A list's size was read from a variable: the cost holds for these variables only.
    /// Otherwise it holds for every request of the operation, and is kept with its plan.
    pub variable_sized: bool,
}

/// What operation `operation_name` of `document` asks for; `None` when there is no such
/// operation (validation says why).
pub fn requested(
    schema: &Registry,
    hints: &Hints,
    document: &ExecutableDocument,
    operation_name: Option<&str>,
    variables: &Variables,
) -> Option<Requested> {
    let operation = operation(document, operation_name)?;
    let root = match operation.ty {
        OperationType::Query => schema.query_type.as_str(),
        OperationType::Mutation => schema.mutation_type.as_deref()?,
        OperationType::Subscription => schema.subscription_type.as_deref()?,
    };
    let mut walk = Walk {
        schema,
        hints,
        document,
        operation,
        variables,
        cache_control: CacheControl::default(),
        variable_sized: Cell::new(false),
    };
    let cost = walk.selection_set(root, &operation.selection_set.node, 0);
    Some(Requested {
        cost,
        cache_control: walk.cache_control,
        variable_sized: walk.variable_sized.get(),
    })
}

struct Walk<'a> {
    schema: &'a Registry,
    hints: &'a Hints,
    document: &'a ExecutableDocument,
    operation: &'a OperationDefinition,
    variables: &'a Variables,
    cache_control: CacheControl,
    /// A size argument was given by a variable.
    variable_sized: Cell<bool>,
}

impl Walk<'_> {
    /// The cost of `set` on type `type_name`, noting the hints of what it selects.
    fn selection_set(&mut self, type_name: &str, set: &SelectionSet, spreads: usize) -> u64 {
        if let Some(hint) = self.hints.type_cache(type_name) {
            self.cache_control = merge(self.cache_control, hint);
        }
        let mut cost: u64 = 0;
        for item in &set.items {
            let added = match &item.node {
                // Free: the executor writes it from the type alone.
                Selection::Field(field) if field.node.name.node == "__typename" => 0,
                Selection::Field(field) => self.field(type_name, &field.node),
                Selection::InlineFragment(inline) => {
                    let on = inline
                        .node
                        .type_condition
                        .as_ref()
                        .map_or(type_name, |c| c.node.on.node.as_str());
                    self.selection_set(on, &inline.node.selection_set.node, spreads)
                }
                Selection::FragmentSpread(spread) if spreads < MAX_SPREADS => {
                    match self.document.fragments.get(&spread.node.fragment_name.node) {
                        Some(fragment) => self.selection_set(
                            fragment.node.type_condition.node.on.node.as_str(),
                            &fragment.node.selection_set.node,
                            spreads + 1,
                        ),
                        None => 0,
                    }
                }
                Selection::FragmentSpread(_) => 0,
            };
            cost = cost.saturating_add(added).min(CAP);
        }
        cost
    }

    fn field(&mut self, type_name: &str, field: &Field) -> u64 {
        let name = field.name.node.as_str();
        let declared = self.hints.field(type_name, name);
        if let Some(hint) = declared.and_then(|d| d.cache) {
            self.cache_control = merge(self.cache_control, hint);
        }
        let meta = self
            .schema
            .types
            .get(type_name)
            .and_then(|t| t.field_by_name(name));
        // Introspection's root fields are the executor's, not the query type's.
        let child = match (meta, name) {
            (Some(meta), _) => meta.ty.trim_matches(|c| matches!(c, '[' | ']' | '!')),
            (None, "__schema") => "__Schema",
            (None, "__type") => "__Type",
            (None, _) => "",
        };
        let below = self.selection_set(child, &field.selection_set.node, 0);
        // Only object types' fields declare costs: through an interface, a field costs 1.
        let Some(declared) = declared.and_then(|d| d.cost.as_ref()) else {
            return below.saturating_add(1).min(CAP);
        };
        let weight = declared.weight.unwrap_or(1);
        if !declared.sized() {
            return below.saturating_add(weight).min(CAP);
        }
        let size = declared
            .slicing_arguments
            .iter()
            .find_map(|argument| self.size(field, meta, argument))
            .or(declared.assumed_size)
            .unwrap_or(1);
        size.saturating_mul(below)
            .saturating_add(1)
            .min(CAP)
            .saturating_add(weight - 1)
    }

    /// The size argument `name` gives: the document's value (or its variable's), else the
    /// schema's default; `None` when neither gives one.
    fn size(
        &self,
        field: &Field,
        meta: Option<&async_graphql::registry::MetaField>,
        name: &str,
    ) -> Option<u64> {
        let given = field.get_argument(name).and_then(|v| self.value(&v.node));
        let value = match given {
            Some(value) if value != ConstValue::Null => value,
            _ => {
                let default = meta?.args.get(name)?.default_value.as_deref()?;
                parse_literal(default)?
            }
        };
        match value {
            ConstValue::Number(n) => Some(n.as_i64().unwrap_or(0).max(0) as u64),
            ConstValue::List(items) => Some(items.len() as u64),
            _ => None,
        }
    }

    /// A document value with its variables read (a missing variable takes its default).
    fn value(&self, value: &Value) -> Option<ConstValue> {
        value
            .clone()
            .into_const_with(|name| {
                self.variable_sized.set(true);
                let given = self.variables.get(&name).cloned().or_else(|| {
                    self.operation
                        .variable_definitions
                        .iter()
                        .find(|d| d.node.name.node == name)
                        .and_then(|d| d.node.default_value().cloned())
                });
                Ok::<_, ()>(given.unwrap_or(ConstValue::Null))
            })
            .ok()
    }
}

/// Two cache hints as one: the shorter non-zero age, private if either is.
pub fn merge(a: CacheControl, b: CacheControl) -> CacheControl {
    CacheControl {
        public: a.public && b.public,
        max_age: match (a.max_age, b.max_age) {
            (-1, _) | (_, -1) => -1,
            (age, 0) | (0, age) => age,
            (a, b) => a.min(b),
        },
    }
}
