//! Run layer, schema comparison: two SDL documents in, the list of changes between them out,
//! each classified by what it does to clients written against the old schema. Types,
//! directives and the root operation types are compared here; their members in
//! [`super::members`] and [`super::inputs`].
//!
//! The classification follows graphql-js (`findBreakingChanges`, `findDangerousChanges`)
//! and graphql-inspector: breaking changes make valid operations fail, dangerous ones keep
//! them valid but may change what they return or how clients must handle it, safe ones
//! change nothing for existing operations.

use std::collections::BTreeMap;
use std::fmt;

use async_graphql::parser::types::{
    DirectiveDefinition, EnumValueDefinition, FieldDefinition, InputValueDefinition,
    ServiceDocument, TypeKind, TypeSystemDefinition,
};

use super::inputs::{Inputs, input_values};
use super::members;

/// How a change affects clients written against the old schema. Sorts breaking first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Valid operations become invalid, or get values their clients cannot handle.
    Breaking,
    /// Operations stay valid, but may behave differently (a new enum value a client does
    /// not expect, a changed default).
    Dangerous,
    /// Nothing changes for existing operations.
    Safe,
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `pad` so that `{:<9}` aligns the report's columns.
        f.pad(match self {
            Level::Breaking => "BREAKING",
            Level::Dangerous => "DANGEROUS",
            Level::Safe => "SAFE",
        })
    }
}

/// One change between two schemas.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// How it affects clients.
    pub level: Level,
    /// What changed: `Type`, `Type.field` (fields, input fields, enum values), `@directive`
    /// or `schema`. `scripts/schema-check` matches it against CHANGELOG.md declarations.
    pub coordinate: String,
    /// How it changed, e.g. `argument slug removed`.
    pub message: String,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:<9} {}: {}", self.level, self.coordinate, self.message)
    }
}

/// The changes from the `old` schema to the `new` one (parsed SDL), breaking first, then
/// dangerous, then safe; by type name, then in declaration order, within each level.
pub fn diff(old: &ServiceDocument, new: &ServiceDocument) -> Vec<Change> {
    let (old, new) = (Schema::from(old), Schema::from(new));
    let mut changes = Changes::default();
    roots(&old, &new, &mut changes);
    for (name, old_type) in &old.types {
        match new.types.get(name) {
            Some(new_type) => named_type(name, old_type, new_type, &mut changes),
            None => changes.breaking(name, "type removed"),
        }
    }
    for name in new
        .types
        .keys()
        .filter(|name| !old.types.contains_key(*name))
    {
        changes.safe(name, "type added");
    }
    directives(&old, &new, &mut changes);
    let mut changes = changes.0;
    changes.sort_by_key(|change| change.level);
    changes
}

/// The changes found so far.
#[derive(Default)]
pub(super) struct Changes(Vec<Change>);

impl Changes {
    pub(super) fn push(&mut self, level: Level, coordinate: &str, message: impl Into<String>) {
        self.0.push(Change {
            level,
            coordinate: coordinate.to_owned(),
            message: message.into(),
        });
    }

    pub(super) fn breaking(&mut self, coordinate: &str, message: impl Into<String>) {
        self.push(Level::Breaking, coordinate, message);
    }

    pub(super) fn dangerous(&mut self, coordinate: &str, message: impl Into<String>) {
        self.push(Level::Dangerous, coordinate, message);
    }

    pub(super) fn safe(&mut self, coordinate: &str, message: impl Into<String>) {
        self.push(Level::Safe, coordinate, message);
    }
}

/// A parsed schema indexed by name, borrowing from its document.
struct Schema<'a> {
    /// The root operation types: query, mutation, subscription.
    roots: [(&'static str, Option<&'a str>); 3],
    types: BTreeMap<&'a str, NamedType<'a>>,
    directives: BTreeMap<&'a str, &'a DirectiveDefinition>,
}

/// A type with its extensions (`extend type …`) merged in.
#[derive(Default)]
struct NamedType<'a> {
    kind: Option<Kind>,
    description: Option<&'a str>,
    /// Of objects and interfaces.
    fields: Vec<&'a FieldDefinition>,
    /// Of objects and interfaces.
    interfaces: Vec<&'a str>,
    /// Of unions.
    members: Vec<&'a str>,
    /// Of enums.
    values: Vec<&'a EnumValueDefinition>,
    /// Of input objects.
    inputs: Vec<&'a InputValueDefinition>,
}

/// The kind of a named type, as messages name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Scalar,
    Object,
    Interface,
    Union,
    Enum,
    InputObject,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Scalar => "scalar",
            Kind::Object => "object",
            Kind::Interface => "interface",
            Kind::Union => "union",
            Kind::Enum => "enum",
            Kind::InputObject => "input object",
        })
    }
}

impl<'a> From<&'a ServiceDocument> for Schema<'a> {
    fn from(document: &'a ServiceDocument) -> Self {
        let mut types: BTreeMap<&str, NamedType> = BTreeMap::new();
        let mut directives = BTreeMap::new();
        let mut roots = [("query", None), ("mutation", None), ("subscription", None)];
        let mut has_schema_definition = false;
        for definition in &document.definitions {
            match definition {
                TypeSystemDefinition::Schema(schema) => {
                    has_schema_definition = true;
                    let named = [&schema.node.query, &schema.node.mutation];
                    let named = named.into_iter().chain([&schema.node.subscription]);
                    for (root, name) in roots.iter_mut().zip(named) {
                        if let Some(name) = name {
                            root.1 = Some(name.node.as_str());
                        }
                    }
                }
                TypeSystemDefinition::Type(definition) => {
                    let definition = &definition.node;
                    let merged = types.entry(definition.name.node.as_str()).or_default();
                    if !definition.extend {
                        merged.description =
                            definition.description.as_ref().map(|d| d.node.as_str());
                    }
                    merged.add(&definition.kind);
                }
                TypeSystemDefinition::Directive(directive) => {
                    directives.insert(directive.node.name.node.as_str(), &directive.node);
                }
            }
        }
        // Without a `schema { … }` definition, the roots are the types of the default names.
        if !has_schema_definition {
            for (root, name) in roots.iter_mut().zip(["Query", "Mutation", "Subscription"]) {
                root.1 = types.get_key_value(name).map(|(name, _)| *name);
            }
        }
        Schema {
            roots,
            types,
            directives,
        }
    }
}

impl<'a> NamedType<'a> {
    fn add(&mut self, kind: &'a TypeKind) {
        let names = |names: &'a [async_graphql::Positioned<async_graphql::Name>]| {
            names.iter().map(|name| name.node.as_str())
        };
        self.kind.get_or_insert(match kind {
            TypeKind::Scalar => Kind::Scalar,
            TypeKind::Object(object) => {
                self.fields.extend(object.fields.iter().map(|f| &f.node));
                self.interfaces.extend(names(&object.implements));
                Kind::Object
            }
            TypeKind::Interface(interface) => {
                self.fields.extend(interface.fields.iter().map(|f| &f.node));
                self.interfaces.extend(names(&interface.implements));
                Kind::Interface
            }
            TypeKind::Union(union) => {
                self.members.extend(names(&union.members));
                Kind::Union
            }
            TypeKind::Enum(enumeration) => {
                self.values
                    .extend(enumeration.values.iter().map(|v| &v.node));
                Kind::Enum
            }
            TypeKind::InputObject(input) => {
                self.inputs.extend(input.fields.iter().map(|f| &f.node));
                Kind::InputObject
            }
        });
    }
}

/// A changed root type breaks every operation of that kind; a new one breaks none.
fn roots(old: &Schema, new: &Schema, changes: &mut Changes) {
    for ((operation, old_root), (_, new_root)) in old.roots.iter().zip(&new.roots) {
        match (old_root, new_root) {
            (Some(old), Some(new)) if old != new => changes.breaking(
                "schema",
                format!("{operation} root changed from {old} to {new}"),
            ),
            (Some(old), None) => {
                changes.breaking("schema", format!("{operation} root {old} removed"))
            }
            (None, Some(new)) => changes.safe("schema", format!("{operation} root {new} added")),
            _ => {}
        }
    }
}

/// The directives the spec defines. Every schema has them, whether its SDL defines them or
/// not, as graphql-js holds: its `printSchema` never prints them, async-graphql's export
/// prints some.
const SPECIFIED_DIRECTIVES: [&str; 5] = ["include", "skip", "deprecated", "specifiedBy", "oneOf"];

/// A directive removed breaks the operations that use it. A directive that annotates the
/// schema only (every location a type system one, like the cost specification's `@cost` and
/// `@listSize`) cannot appear in an operation, and introspection lists only the directives an
/// executor knows, so defined on one side only it is not compared. A specified directive
/// defined on one side only is not compared either, not even with the spec's definition: implementations word
/// its descriptions differently (async-graphql's `@specifiedBy` is not graphql-js's) and the
/// spec's `@deprecated` differs between editions, so that would report changes that no
/// server makes. Defined on both sides, it is compared like any other.
fn directives(old: &Schema, new: &Schema, changes: &mut Changes) {
    for (name, old_directive) in &old.directives {
        let coordinate = format!("@{name}");
        match new.directives.get(name) {
            Some(new_directive) => {
                members::directive(&coordinate, old_directive, new_directive, changes)
            }
            None if SPECIFIED_DIRECTIVES.contains(name) => {}
            None if annotation(old_directive) => {}
            None => changes.breaking(&coordinate, "directive removed"),
        }
    }
    let added = new.directives.iter();
    let added = added.filter(|(name, _)| !old.directives.contains_key(*name));
    for (name, directive) in added {
        if !SPECIFIED_DIRECTIVES.contains(name) && !annotation(directive) {
            changes.safe(&format!("@{name}"), "directive added");
        }
    }
}

/// Whether `directive` can only annotate the schema: none of its locations is in operations.
fn annotation(directive: &DirectiveDefinition) -> bool {
    use async_graphql::parser::types::DirectiveLocation as At;
    directive.locations.iter().all(|at| {
        !matches!(
            at.node,
            At::Query
                | At::Mutation
                | At::Subscription
                | At::Field
                | At::FragmentDefinition
                | At::FragmentSpread
                | At::InlineFragment
                | At::VariableDefinition
        )
    })
}

fn named_type(name: &str, old: &NamedType, new: &NamedType, changes: &mut Changes) {
    let (Some(old_kind), Some(new_kind)) = (old.kind, new.kind) else {
        return;
    };
    if old_kind != new_kind {
        changes.breaking(name, format!("kind changed from {old_kind} to {new_kind}"));
        return;
    }
    members::description(
        name,
        "description",
        old.description,
        new.description,
        changes,
    );
    members::names(name, "interface", &old.interfaces, &new.interfaces, changes);
    members::names(name, "member", &old.members, &new.members, changes);
    members::fields(name, &old.fields, &new.fields, changes);
    members::enum_values(name, &old.values, &new.values, changes);
    let inputs = Inputs::InputFields(name);
    input_values(&inputs, &old.inputs, &new.inputs, changes);
}
