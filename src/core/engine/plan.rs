//! A validated operation as a plan: for each selection set, the object type it is on and
//! its fields, merged by response key in document order, with fragments flattened,
//! `@include`/`@skip` applied, and each field's arguments and result shape taken from the
//! schema. Planning declines (returns `None`) a document it cannot read as a valid operation;
//! validation then says what is wrong with it.

use std::sync::OnceLock;

use async_graphql::parser::types::{
    Directive, ExecutableDocument, Field, OperationType, Selection as Item, SelectionSet,
};
use async_graphql::registry::{MetaType, Registry as Schema};
use async_graphql::{Name, Pos, Positioned, Value as ConstValue, Variables};
use async_graphql_value::Value;

use super::registry::Registry;
use super::shape::Shape;
use super::walks::{every_field, gather, selected_below};
use crate::core::cost::requested::Requested;
use crate::core::document::{operation, parse_literal};
use crate::core::schema::Hints;
use crate::observe::request::Fields;

/// A field's argument: the document's value (variables still in it) or the schema's default.
#[derive(Debug, PartialEq)]
pub(crate) enum Argument {
    Given(Value),
    Default(ConstValue),
}

/// One field of a selection set, as executed.
#[derive(Debug)]
pub(crate) struct FieldPlan {
    /// The response key (alias or name).
    pub(crate) key: Name,
    /// `"key":`, ready to write.
    pub(crate) key_json: Box<[u8]>,
    /// The field's name in the schema; `__typename` for the type's name.
    pub(crate) name: Name,
    /// Where the field is in the document (each of its merged selections), for errors.
    pub(crate) locations: Vec<Pos>,
    pub(crate) shape: Shape,
    pub(crate) args: Vec<(Name, Argument)>,
    /// The child selection, for fields of object type.
    pub(crate) selection: Option<Selection>,
    /// One child selection per object type, for fields of an interface or union type.
    pub(crate) abstract_selections: Vec<Selection>,
    /// The names selected below, two levels deep (see `Args::selects`).
    pub(crate) selected: std::sync::Arc<[String]>,
    /// Resolved after the rest of the operation, with its other levels (see
    /// `ObjectFields::gathered`).
    pub(crate) late: bool,
    /// An earlier scalar field of the same selection with the same name and arguments
    /// (aliases of `totalCount`): its answer is shared, not asked for again.
    pub(crate) same_as: Option<usize>,
    /// Introspection's `__schema` or `__type`: answered by async-graphql (see
    /// `Introspected`).
    pub(crate) introspected: bool,
    /// What answering it adds to the actual cost: its declared weight (`@cost`), else 1.
    pub(crate) weight: u64,
}

impl FieldPlan {
    /// A field without arguments or a selection of its own: `__typename`, or introspection.
    fn bare(key: &Name, name: &Name, locations: Vec<Pos>, shape: Shape) -> Option<Self> {
        let key_json = format!("{}:", serde_json::to_string(key.as_str()).ok()?);
        Some(Self {
            key: key.clone(),
            key_json: key_json.into_bytes().into(),
            name: name.clone(),
            locations,
            shape,
            args: Vec::new(),
            selection: None,
            abstract_selections: Vec::new(),
            selected: Vec::new().into(),
            late: false,
            same_as: None,
            introspected: matches!(name.as_str(), "__schema" | "__type"),
            weight: 1,
        })
    }
}

/// The fields selected on one object type.
#[derive(Debug)]
pub(crate) struct Selection {
    pub(crate) type_name: Name,
    pub(crate) fields: Vec<FieldPlan>,
    /// What each object of the type adds to the actual cost (`@cost` on the type; 0).
    pub(crate) weight: u64,
}

/// A planned operation.
#[derive(Debug)]
pub struct Plan {
    pub(crate) root: Selection,
    /// The operation's variable definitions' defaults.
    pub(crate) variable_defaults: Vec<(Name, ConstValue)>,
    /// Every `(type, field)` the plan selects, once each.
    selected: Vec<(Name, Name)>,
    /// A mutation: its root fields run one after the other, each with all below it.
    pub(crate) serial: bool,
    /// Set once the gate has let the operation through: the fields its document selects,
    /// for field usage. The next request with the same document is validated only where
    /// its variables are concerned (see `core::variables`).
    validated: OnceLock<Fields>,
    /// What the operation requests (`cost::requested`), once read, when no variable sizes a
    /// list: then every request of the operation requests the same.
    requested: OnceLock<Requested>,
}

impl Plan {
    /// Whether the operation selects introspection's `__schema` or `__type`.
    pub fn introspects(&self) -> bool {
        self.root.fields.iter().any(|f| f.introspected)
    }

    /// The fields the operation's document selects, once the gate has let it through.
    pub fn validated(&self) -> Option<&Fields> {
        self.validated.get()
    }

    /// Notes that the gate let the operation through, with the fields its document selects.
    pub fn pass(&self, fields: Fields) {
        let _ = self.validated.set(fields);
    }

    /// What the operation requests, if it is the same for every request (see `keep`).
    pub fn requested(&self) -> Option<Requested> {
        self.requested.get().copied()
    }

    /// Keeps what the operation requests when no variable sized it.
    pub fn keep(&self, requested: Requested) {
        if !requested.variable_sized {
            let _ = self.requested.set(requested);
        }
    }

    /// The fields of `type_name` that the plan selects anywhere, so loaders can read only
    /// what those fields show.
    pub fn fields_of<'p>(&'p self, type_name: &'p str) -> impl Iterator<Item = &'p str> {
        self.selected
            .iter()
            .filter(move |(t, _)| t.as_str() == type_name)
            .map(|(_, f)| f.as_str())
    }
}

/// Plans `operation_name` of `document`, or `None` when the engine cannot run it yet.
pub(crate) fn plan(
    schema: &Schema,
    hints: &Hints,
    registry: &Registry,
    document: &ExecutableDocument,
    operation_name: Option<&str>,
    variables: &Variables,
) -> Option<Plan> {
    let operation = operation(document, operation_name)?;
    let root_type = match operation.ty {
        OperationType::Query => schema.query_type.clone(),
        OperationType::Mutation => schema.mutation_type.clone()?,
        OperationType::Subscription => return None,
    };
    let variable_defaults = operation
        .variable_definitions
        .iter()
        .filter_map(|d| {
            let default = d.node.default_value()?.clone();
            Some((d.node.name.node.clone(), default))
        })
        .collect::<Vec<_>>();
    let mut planner = Planner {
        schema,
        hints,
        registry,
        document,
        variables,
        variable_defaults: &variable_defaults,
    };
    let mut root = planner.selection(&Name::new(root_type), &[&operation.selection_set.node])?;
    gather(registry, &mut root);
    let mut selected = Vec::new();
    every_field(&root, &mut selected);
    Some(Plan {
        root,
        variable_defaults,
        selected,
        serial: operation.ty == OperationType::Mutation,
        validated: OnceLock::new(),
        requested: OnceLock::new(),
    })
}

struct Planner<'a> {
    schema: &'a Schema,
    hints: &'a Hints,
    registry: &'a Registry,
    document: &'a ExecutableDocument,
    variables: &'a Variables,
    variable_defaults: &'a [(Name, ConstValue)],
}

impl<'a> Planner<'a> {
    /// The plan of `sets` (merged) on object type `type_name`.
    fn selection(&mut self, type_name: &Name, sets: &[&'a SelectionSet]) -> Option<Selection> {
        let Some(MetaType::Object {
            fields: meta_fields,
            ..
        }) = self.schema.types.get(type_name.as_str())
        else {
            return None;
        };
        let engine_type = self.registry.objects.get(type_name.as_str())?;
        let mut grouped: Vec<(&'a Name, Vec<&'a Positioned<Field>>)> = Vec::new();
        for set in sets {
            self.collect(type_name, set, &mut grouped, 0)?;
        }
        let mut fields = Vec::with_capacity(grouped.len());
        for (key, occurrences) in grouped {
            let first = occurrences.first()?;
            let name = &first.node.name.node;
            let locations = || occurrences.iter().map(|f| f.pos).collect();
            match name.as_str() {
                "__typename" | "__schema" => {
                    let shape = Shape::Named { non_null: true };
                    fields.push(FieldPlan::bare(key, name, locations(), shape)?);
                    continue;
                }
                "__type" => {
                    let shape = Shape::Named { non_null: false };
                    fields.push(FieldPlan::bare(key, name, locations(), shape)?);
                    continue;
                }
                _ => {}
            }
            let key_json = format!("{}:", serde_json::to_string(key.as_str()).ok()?);
            let meta = meta_fields.get(name.as_str())?;
            engine_type.fields.get(name.as_str())?;
            let args = meta
                .args
                .values()
                .filter_map(|arg| {
                    let given = first
                        .node
                        .get_argument(&arg.name)
                        .map(|v| Argument::Given(v.node.clone()));
                    let default = || {
                        let text = arg.default_value.as_deref()?;
                        Some(Argument::Default(parse_literal(text)?))
                    };
                    Some((Name::new(&arg.name), given.or_else(default)?))
                })
                .collect();
            let named = meta.ty.trim_matches(|c| matches!(c, '[' | ']' | '!'));
            let sets: Vec<&'a SelectionSet> = occurrences
                .iter()
                .map(|f| &f.node.selection_set.node)
                .collect();
            let (selection, abstract_selections) = match self.schema.types.get(named)? {
                MetaType::Object { .. } => {
                    (Some(self.selection(&Name::new(named), &sets)?), Vec::new())
                }
                MetaType::Scalar { .. } | MetaType::Enum { .. } => (None, Vec::new()),
                // Every possible type must be one the engine executes, or the plan declines.
                MetaType::Interface { possible_types, .. }
                | MetaType::Union { possible_types, .. } => {
                    let mut selections = Vec::with_capacity(possible_types.len());
                    for possible in possible_types {
                        selections.push(self.selection(&Name::new(possible), &sets)?);
                    }
                    (None, selections)
                }
                _ => return None,
            };
            let selected: Vec<String> = selection
                .iter()
                .chain(&abstract_selections)
                .flat_map(selected_below)
                .collect();
            let same_as = match (&selection, abstract_selections.is_empty()) {
                (None, true) => fields.iter().position(|f: &FieldPlan| {
                    f.selection.is_none()
                        && f.abstract_selections.is_empty()
                        && f.name == *name
                        && f.args == args
                }),
                _ => None,
            };
            fields.push(FieldPlan {
                key: key.clone(),
                key_json: key_json.into_bytes().into(),
                name: name.clone(),
                locations: locations(),
                shape: Shape::parse(&meta.ty),
                args,
                selection,
                abstract_selections,
                selected: selected.into(),
                late: false,
                same_as,
                introspected: false,
                weight: (self.hints.field(type_name, name))
                    .and_then(|declared| declared.cost.as_ref()?.weight)
                    .unwrap_or(1),
            });
        }
        Some(Selection {
            type_name: type_name.clone(),
            fields,
            weight: self.hints.type_weight(type_name),
        })
    }

    /// Adds the fields of `set` that apply to `type_name` to `grouped`, by response key in
    /// document order.
    fn collect(
        &self,
        type_name: &Name,
        set: &'a SelectionSet,
        grouped: &mut Vec<(&'a Name, Vec<&'a Positioned<Field>>)>,
        depth: usize,
    ) -> Option<()> {
        // Validation refuses fragment cycles; the bound keeps this walk finite regardless.
        if depth > 64 {
            return None;
        }
        for item in &set.items {
            if !self.included(item.node.directives())? {
                continue;
            }
            match &item.node {
                Item::Field(field) => {
                    let key = &field.node.response_key().node;
                    let introspection = match field.node.name.node.as_str() {
                        "__typename" => false,
                        name => name.starts_with("__"),
                    };
                    // Introspection's fields are the query root's only.
                    if introspection && *type_name != self.schema.query_type {
                        return None;
                    }
                    match grouped.iter_mut().find(|(k, _)| *k == key) {
                        Some((_, occurrences)) => occurrences.push(field),
                        None => grouped.push((key, vec![field])),
                    }
                }
                Item::FragmentSpread(spread) => {
                    let fragment = self
                        .document
                        .fragments
                        .get(&spread.node.fragment_name.node)?;
                    if self.applies(&fragment.node.type_condition.node.on.node, type_name) {
                        self.collect(
                            type_name,
                            &fragment.node.selection_set.node,
                            grouped,
                            depth + 1,
                        )?;
                    }
                }
                Item::InlineFragment(inline) => {
                    let applies = match &inline.node.type_condition {
                        Some(condition) => self.applies(&condition.node.on.node, type_name),
                        None => true,
                    };
                    if applies {
                        self.collect(
                            type_name,
                            &inline.node.selection_set.node,
                            grouped,
                            depth + 1,
                        )?;
                    }
                }
            }
        }
        Some(())
    }

    /// Whether a fragment on `condition` applies to objects of `type_name`.
    fn applies(&self, condition: &Name, type_name: &Name) -> bool {
        if condition == type_name {
            return true;
        }
        match self.schema.types.get(condition.as_str()) {
            Some(MetaType::Interface { possible_types, .. })
            | Some(MetaType::Union { possible_types, .. }) => {
                possible_types.contains(type_name.as_str())
            }
            _ => false,
        }
    }

    /// Whether `@skip`/`@include` keep a selection.
    fn included(&self, directives: &[Positioned<Directive>]) -> Option<bool> {
        for directive in directives {
            let keep_when = match directive.node.name.node.as_str() {
                "skip" => false,
                "include" => true,
                _ => continue,
            };
            let condition = match &directive.node.get_argument("if")?.node {
                Value::Boolean(b) => *b,
                Value::Variable(name) => match self.variable(name)? {
                    ConstValue::Boolean(b) => b,
                    _ => return None,
                },
                _ => return None,
            };
            if condition != keep_when {
                return Some(false);
            }
        }
        Some(true)
    }

    fn variable(&self, name: &Name) -> Option<ConstValue> {
        variable(self.variables, self.variable_defaults, name)
    }
}

/// A variable's value: the request's, else its definition's default, else null.
pub(crate) fn variable(
    variables: &Variables,
    defaults: &[(Name, ConstValue)],
    name: &Name,
) -> Option<ConstValue> {
    variables
        .get(name)
        .or_else(|| defaults.iter().find(|(n, _)| n == name).map(|(_, v)| v))
        .cloned()
        .or(Some(ConstValue::Null))
}

/// The names of the Boolean variables' values, which decide `@skip`/`@include`: part of
/// a plan's cache key.
pub(crate) fn condition_key(variables: &Variables) -> Vec<(Name, bool)> {
    let mut key: Vec<(Name, bool)> = variables
        .iter()
        .filter_map(|(name, value)| match value {
            ConstValue::Boolean(b) => Some((name.clone(), *b)),
            _ => None,
        })
        .collect();
    key.sort();
    key
}
