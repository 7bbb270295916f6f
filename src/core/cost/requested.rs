//! What an operation asks for, read from its document before it runs: its requested cost
//! and its cache hint.
//!
//! **Cost.** A field costs its weight (1 unless `@cost(weight:)` says otherwise) plus what is
//! selected below it and the weight of the object type it returns (`@cost` on the type, 0
//! unless declared), times its list's size when it is sized (`@listSize`): the value of its
//! first slicing argument that is given (a number, or the length of a list of ids), else the
//! argument's default, else the assumed size. A field that returns a connection, not a list,
//! names the lists its size applies to (`sizedFields: ["edges", "nodes"]`): those are
//! multiplied, its `totalCount` and `pageInfo` are not. This is the cost specification's
//! reading of the directives the schema publishes, with one choice of ours: every field
//! weighs 1 by default, scalars included. A negative size counts as 0, and the total is
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
    let cost = walk.selection_set(root, &operation.selection_set.node, 0, None);
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

/// A size and the fields it applies to.
type Sized<'a> = Option<(u64, &'a [String])>;

impl<'a> Walk<'a> {
    /// The cost of `set` on type `type_name`, noting the hints of what it selects.
    /// `sized`: the size a parent's `@listSize(sizedFields:)` gives to those fields of `set`.
    fn selection_set(
        &mut self,
        type_name: &str,
        set: &SelectionSet,
        spreads: usize,
        sized: Sized<'a>,
    ) -> u64 {
        if let Some(hint) = self.hints.type_cache(type_name) {
            self.cache_control = merge(self.cache_control, hint);
        }
        let mut cost: u64 = 0;
        for item in &set.items {
            let added = match &item.node {
                // Free: the executor writes it from the type alone.
                Selection::Field(field) if field.node.name.node == "__typename" => 0,
                Selection::Field(field) => {
                    let name = &field.node.name.node;
                    let imposed = sized.and_then(|(size, fields)| {
                        fields.iter().any(|f| f == name).then_some(size)
                    });
                    self.field(type_name, &field.node, imposed)
                }
                Selection::InlineFragment(inline) => {
                    let on = inline
                        .node
                        .type_condition
                        .as_ref()
                        .map_or(type_name, |c| c.node.on.node.as_str());
                    self.selection_set(on, &inline.node.selection_set.node, spreads, sized)
                }
                Selection::FragmentSpread(spread) if spreads < MAX_SPREADS => {
                    match self.document.fragments.get(&spread.node.fragment_name.node) {
                        Some(fragment) => self.selection_set(
                            fragment.node.type_condition.node.on.node.as_str(),
                            &fragment.node.selection_set.node,
                            spreads + 1,
                            sized,
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

    /// The cost of `field` of type `type_name`; `imposed` is the size its parent's
    /// `sizedFields` give it (a connection's `nodes` and `edges`).
    fn field(&mut self, type_name: &str, field: &Field, imposed: Option<u64>) -> u64 {
        let hints = self.hints;
        let name = field.name.node.as_str();
        let declared = hints.field(type_name, name);
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
        // Only object types' fields declare costs: through an interface, a field costs 1.
        let declared = declared.and_then(|d| d.cost.as_ref());
        let weight = declared.and_then(|d| d.weight).unwrap_or(1);
        let (size, sized_below) = match declared {
            Some(declared) if declared.sized() => {
                let size = (declared.slicing_arguments.iter())
                    .find_map(|argument| self.size(field, meta, argument))
                    .or(declared.assumed_size)
                    .unwrap_or(1);
                if declared.sized_fields.is_empty() {
                    (Some(size), None)
                } else {
                    (None, Some((size, declared.sized_fields.as_slice())))
                }
            }
            _ => (imposed, None),
        };
        let below = self
            .selection_set(child, &field.selection_set.node, 0, sized_below)
            .saturating_add(hints.type_weight(child));
        size.unwrap_or(1)
            .saturating_mul(below)
            .saturating_add(weight)
            .min(CAP)
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
