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
    /// Delivered later, with this deferred group (see `Group`), not with the object it is
    /// on: the field was selected only under `@defer`.
    pub(crate) deferred: Option<u16>,
    /// `@stream`: the list's first items are delivered with the object, the rest after.
    pub(crate) stream: Option<Stream>,
}

/// A group of deferred fields: one `@defer` of the document, delivered in its own
/// payload once every group it is within has been (`after`).
#[derive(Debug)]
pub(crate) struct Group {
    pub(crate) label: Option<String>,
    /// The group whose fragment this one is in (0: the operation's first payload).
    pub(crate) parent: u16,
    /// The groups that deliver the objects this group's fields are on.
    pub(crate) after: Vec<u16>,
    /// Where its `@defer` is, so a fragment spread from two places is one group.
    at: Pos,
}

/// `@stream` on a list field.
#[derive(Debug)]
pub(crate) struct Stream {
    /// How many items the first payload holds (a literal, or a variable).
    pub(crate) initial_count: Value,
    pub(crate) label: Option<String>,
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
            deferred: None,
            stream: None,
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
    /// The deferred groups, group `n` at index `n - 1`; empty unless planned for
    /// incremental delivery.
    pub(crate) groups: Vec<Group>,
    /// Some field is streamed (`@stream`).
    pub(crate) streams: bool,
    /// Set once the gate has let the operation through: the fields its document selects,
    /// for field usage. The next request with the same document is validated only where
    /// its variables are concerned (see `core::variables`).
    validated: OnceLock<Fields>,
    /// What the operation requests (`cost::requested`), once read, when no variable sizes a
    /// list: then every request of the operation requests the same.
    requested: OnceLock<Requested>,
}

impl Plan {
    /// Whether the operation delivers parts after its first (`@defer`, `@stream`).
    pub fn incremental(&self) -> bool {
        !self.groups.is_empty() || self.streams
    }

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

/// The most deferred groups a plan makes (`core::incremental` bounds the directives; a
/// fragment deferred inside deferred fragments makes a group for each).
const MAX_GROUPS: usize = 64;

/// Plans `operation_name` of `document`, or `None` when the engine cannot run it yet.
/// `incremental`: `@defer` and `@stream` apply (the client takes parts); otherwise the
/// answer is delivered whole and they are ignored.
pub(crate) fn plan(
    schema: &Schema,
    hints: &Hints,
    registry: &Registry,
    document: &ExecutableDocument,
    operation_name: Option<&str>,
    variables: &Variables,
    incremental: bool,
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
        // Deferring in a mutation is refused before planning (`core::incremental`).
        incremental: incremental && operation.ty == OperationType::Query,
        groups: Vec::new(),
        streams: false,
    };
    let root_set = [(&operation.selection_set.node, 0)];
    let mut root = planner.selection(&Name::new(root_type), &root_set, 0)?;
    let Planner {
        mut groups,
        streams,
        ..
    } = planner;
    ordered(&root, 0, &mut Vec::new(), &mut groups);
    gather(registry, &mut root);
    let mut selected = Vec::new();
    every_field(&root, &mut selected);
    Some(Plan {
        root,
        variable_defaults,
        selected,
        serial: operation.ty == OperationType::Mutation,
        groups,
        streams,
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
    incremental: bool,
    groups: Vec<Group>,
    streams: bool,
}

/// A field's selections by response key, each with the group it was selected in.
type Grouped<'a> = Vec<(&'a Name, Vec<(&'a Positioned<Field>, u16)>)>;

impl<'a> Planner<'a> {
    /// The plan of `sets` (merged) on object type `type_name`; each set was selected in a
    /// group, and the objects are delivered with `group`.
    fn selection(
        &mut self,
        type_name: &Name,
        sets: &[(&'a SelectionSet, u16)],
        group: u16,
    ) -> Option<Selection> {
        let Some(MetaType::Object {
            fields: meta_fields,
            ..
        }) = self.schema.types.get(type_name.as_str())
        else {
            return None;
        };
        let engine_type = self.registry.objects.get(type_name.as_str())?;
        let mut grouped: Grouped<'a> = Vec::new();
        for (set, in_group) in sets {
            self.collect(type_name, set, *in_group, &mut grouped, 0)?;
        }
        let mut fields = Vec::with_capacity(grouped.len());
        for (key, occurrences) in grouped {
            let (first, _) = occurrences.first()?;
            let name = &first.node.name.node;
            let locations = || occurrences.iter().map(|(f, _)| f.pos).collect();
            // Delivered with a group none of its other selections is outside of (with the
            // group they are all in, when there is one), the first made of those. So every
            // selection below it is in its group or in one within, and a group waits only
            // for groups made before it: the order of delivery has no cycle.
            let in_groups = occurrences.iter().map(|(_, g)| *g);
            let outermost = |g: &u16| {
                !in_groups
                    .clone()
                    .any(|other| other != *g && self.within(*g, other))
            };
            let field_group = in_groups.clone().filter(outermost).min()?;
            let deferred = (field_group != group).then_some(field_group);
            match name.as_str() {
                "__typename" | "__schema" => {
                    let shape = Shape::Named { non_null: true };
                    let mut bare = FieldPlan::bare(key, name, locations(), shape)?;
                    bare.deferred = deferred;
                    fields.push(bare);
                    continue;
                }
                "__type" => {
                    let shape = Shape::Named { non_null: false };
                    let mut bare = FieldPlan::bare(key, name, locations(), shape)?;
                    bare.deferred = deferred;
                    fields.push(bare);
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
            let sets: Vec<(&'a SelectionSet, u16)> = occurrences
                .iter()
                .map(|(f, g)| (&f.node.selection_set.node, *g))
                .collect();
            let (selection, abstract_selections) = match self.schema.types.get(named)? {
                MetaType::Object { .. } => (
                    Some(self.selection(&Name::new(named), &sets, field_group)?),
                    Vec::new(),
                ),
                MetaType::Scalar { .. } | MetaType::Enum { .. } => (None, Vec::new()),
                // Every possible type must be one the engine executes, or the plan declines.
                MetaType::Interface { possible_types, .. }
                | MetaType::Union { possible_types, .. } => {
                    let mut selections = Vec::with_capacity(possible_types.len());
                    for possible in possible_types {
                        let possible = Name::new(possible);
                        selections.push(self.selection(&possible, &sets, field_group)?);
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
                        && f.deferred == deferred
                        && f.stream.is_none()
                }),
                _ => None,
            };
            let shape = Shape::parse(&meta.ty);
            let stream = match shape {
                Shape::List { .. } if self.incremental => self.stream(&first.node.directives)?,
                _ => None,
            };
            self.streams |= stream.is_some();
            fields.push(FieldPlan {
                key: key.clone(),
                key_json: key_json.into_bytes().into(),
                name: name.clone(),
                locations: locations(),
                shape,
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
                deferred,
                stream,
            });
        }
        Some(Selection {
            type_name: type_name.clone(),
            fields,
            weight: self.hints.type_weight(type_name),
        })
    }

    /// Adds the fields of `set` that apply to `type_name` to `grouped`, by response key in
    /// document order; `set` was selected in `group`, and a deferred fragment in it starts
    /// a group of its own.
    fn collect(
        &mut self,
        type_name: &Name,
        set: &'a SelectionSet,
        group: u16,
        grouped: &mut Grouped<'a>,
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
                        Some((_, occurrences)) => occurrences.push((field, group)),
                        None => grouped.push((key, vec![(field, group)])),
                    }
                }
                Item::FragmentSpread(spread) => {
                    let fragment = self
                        .document
                        .fragments
                        .get(&spread.node.fragment_name.node)?;
                    if self.applies(&fragment.node.type_condition.node.on.node, type_name) {
                        let inner = self.deferred(&spread.node.directives, group)?;
                        self.collect(
                            type_name,
                            &fragment.node.selection_set.node,
                            inner,
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
                        let inner = self.deferred(&inline.node.directives, group)?;
                        self.collect(
                            type_name,
                            &inline.node.selection_set.node,
                            inner,
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

    /// The group a fragment's fields are selected in: a group of its own when it is
    /// deferred (`@defer`, unless `if` is false), else `group`, the one it is in.
    fn deferred(&mut self, directives: &[Positioned<Directive>], group: u16) -> Option<u16> {
        let Some(defer) = directives.iter().find(|d| d.node.name.node == "defer") else {
            return Some(group);
        };
        if !self.incremental || !self.condition(&defer.node)? {
            return Some(group);
        }
        let at = defer.pos;
        if let Some(known) = (self.groups.iter()).position(|g| g.at == at && g.parent == group) {
            return u16::try_from(known + 1).ok();
        }
        // A fragment spread in many deferred places makes a group in each; past the bound,
        // its fields come with the part it is in.
        if self.groups.len() >= MAX_GROUPS {
            return Some(group);
        }
        self.groups.push(Group {
            label: label(&defer.node),
            parent: group,
            after: Vec::new(),
            at,
        });
        u16::try_from(self.groups.len()).ok()
    }

    /// A field's `@stream`, unless its `if` is false.
    fn stream(&self, directives: &[Positioned<Directive>]) -> Option<Option<Stream>> {
        let Some(stream) = directives.iter().find(|d| d.node.name.node == "stream") else {
            return Some(None);
        };
        if !self.condition(&stream.node)? {
            return Some(None);
        }
        let initial_count = match stream.node.get_argument("initialCount") {
            Some(count) => count.node.clone(),
            None => Value::Number(0.into()),
        };
        Some(Some(Stream {
            initial_count,
            label: label(&stream.node),
        }))
    }

    /// The `if` of `@defer` or `@stream`: true unless given.
    fn condition(&self, directive: &Directive) -> Option<bool> {
        match directive.get_argument("if").map(|v| &v.node) {
            None => Some(true),
            Some(Value::Boolean(b)) => Some(*b),
            Some(Value::Variable(name)) => match self.variable(name)? {
                ConstValue::Boolean(b) => Some(b),
                ConstValue::Null => Some(true),
                _ => None,
            },
            Some(_) => None,
        }
    }

    /// Whether fields selected in group `inner` are delivered with group `outer` or after
    /// it: `outer` is `inner` or a group it is within.
    fn within(&self, mut inner: u16, outer: u16) -> bool {
        loop {
            if inner == outer {
                return true;
            }
            if inner == 0 {
                return false;
            }
            match self.groups.get(usize::from(inner) - 1) {
                Some(group) => inner = group.parent,
                None => return false,
            }
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

/// A directive's `label`, when it is a string.
fn label(directive: &Directive) -> Option<String> {
    match &directive.get_argument("label")?.node {
        Value::String(label) => Some(label.clone()),
        _ => None,
    }
}

/// Notes in each group's `after` the groups that deliver the objects its fields are on:
/// the groups of the fields above them, and the one their selection is delivered with.
fn ordered(selection: &Selection, group: u16, above: &mut Vec<u16>, groups: &mut [Group]) {
    for field in &selection.fields {
        let field_group = field.deferred.unwrap_or(group);
        if let Some(deferred) = field.deferred
            && let Some(def) = groups.get_mut(usize::from(deferred) - 1)
        {
            for earlier in above.iter().copied().chain([group]) {
                if earlier != deferred && !def.after.contains(&earlier) {
                    def.after.push(earlier);
                }
            }
        }
        above.push(field_group);
        for child in field.selection.iter().chain(&field.abstract_selections) {
            ordered(child, field_group, above, groups);
        }
        above.pop();
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
