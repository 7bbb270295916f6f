//! Run layer, schema comparison of the members of a type or directive: fields, enum values,
//! interfaces and union members, directive locations, and the descriptions and deprecations
//! on them (arguments and input fields in [`super::inputs`]). Each function compares one
//! list and records what changed; the helpers at the end serve `inputs` too.

use async_graphql::Positioned;
use async_graphql::parser::types::{
    BaseType, ConstDirective, DirectiveDefinition, EnumValueDefinition, FieldDefinition,
    InputValueDefinition, Type,
};

use super::diff::{Changes, Level};
use super::inputs::{Inputs, input_values};

/// What `scripts/schema-check` looks for: a removal that skipped `@deprecated`.
const REMOVED_WITHOUT_DEPRECATION: &str = "removed without deprecation";

/// The fields of an object or interface. A client selects them and reads their values.
pub(super) fn fields(
    owner: &str,
    old: &[&FieldDefinition],
    new: &[&FieldDefinition],
    changes: &mut Changes,
) {
    for old_field in old {
        let coordinate = format!("{owner}.{}", old_field.name());
        let Some(new_field) = find(new, old_field.name()) else {
            changes.breaking(&coordinate, removal("field", &old_field.directives));
            continue;
        };
        let (old_type, new_type) = (&old_field.ty.node, &new_field.ty.node);
        if old_type != new_type {
            let level = level(output_compatible(old_type, new_type));
            let message = format!("type changed from {old_type} to {new_type}");
            changes.push(level, &coordinate, message);
        }
        let inputs = Inputs::Arguments(&coordinate);
        let (old_arguments, new_arguments) =
            (nodes(&old_field.arguments), nodes(&new_field.arguments));
        input_values(&inputs, &old_arguments, &new_arguments, changes);
        let (old_text, new_text) = (text(&old_field.description), text(&new_field.description));
        description(&coordinate, "description", old_text, new_text, changes);
        deprecation(
            &coordinate,
            "field",
            &old_field.directives,
            &new_field.directives,
            changes,
        );
    }
    for new_field in added(old, new) {
        changes.safe(&format!("{owner}.{}", new_field.name()), "field added");
    }
}

/// The values of an enum: clients send them as arguments and receive them from fields.
pub(super) fn enum_values(
    owner: &str,
    old: &[&EnumValueDefinition],
    new: &[&EnumValueDefinition],
    changes: &mut Changes,
) {
    for old_value in old {
        let coordinate = format!("{owner}.{}", old_value.name());
        let Some(new_value) = find(new, old_value.name()) else {
            changes.breaking(&coordinate, removal("enum value", &old_value.directives));
            continue;
        };
        let (old_text, new_text) = (text(&old_value.description), text(&new_value.description));
        description(&coordinate, "description", old_text, new_text, changes);
        deprecation(
            &coordinate,
            "enum value",
            &old_value.directives,
            &new_value.directives,
            changes,
        );
    }
    // A client that switches over the values meets one it does not know.
    for new_value in added(old, new) {
        changes.dangerous(&format!("{owner}.{}", new_value.name()), "enum value added");
    }
}

/// The interfaces a type implements, or the members of a union: removing one breaks the
/// fragments on it; adding one lets new types reach a client through an abstract type.
pub(super) fn names(owner: &str, what: &str, old: &[&str], new: &[&str], changes: &mut Changes) {
    for name in old.iter().filter(|name| !new.contains(name)) {
        changes.breaking(owner, format!("{what} {name} removed"));
    }
    for name in new.iter().filter(|name| !old.contains(name)) {
        changes.dangerous(owner, format!("{what} {name} added"));
    }
}

/// A directive definition: operations use it with its arguments, at its locations.
pub(super) fn directive(
    coordinate: &str,
    old: &DirectiveDefinition,
    new: &DirectiveDefinition,
    changes: &mut Changes,
) {
    let (old_arguments, new_arguments) = (nodes(&old.arguments), nodes(&new.arguments));
    input_values(
        &Inputs::DirectiveArguments(coordinate),
        &old_arguments,
        &new_arguments,
        changes,
    );
    let locations = |definition: &DirectiveDefinition| -> Vec<String> {
        let locations = definition.locations.iter();
        locations
            .map(|location| screaming_snake(&format!("{:?}", location.node)))
            .collect()
    };
    let (old_locations, new_locations) = (locations(old), locations(new));
    for location in old_locations.iter().filter(|l| !new_locations.contains(l)) {
        changes.breaking(coordinate, format!("location {location} removed"));
    }
    for location in new_locations.iter().filter(|l| !old_locations.contains(l)) {
        changes.safe(coordinate, format!("location {location} added"));
    }
    // `repeatable` is not compared: async-graphql-parser 7 reads every directive as
    // repeatable (its grammar rule matches the empty string).
    description(
        coordinate,
        "description",
        text(&old.description),
        text(&new.description),
        changes,
    );
}

/// Descriptions are documentation: any change is safe.
pub(super) fn description(
    coordinate: &str,
    subject: &str,
    old: Option<&str>,
    new: Option<&str>,
    changes: &mut Changes,
) {
    match (old, new) {
        (None, Some(_)) => changes.safe(coordinate, format!("{subject} added")),
        (Some(_), None) => changes.safe(coordinate, format!("{subject} removed")),
        (Some(old), Some(new)) if old != new => {
            changes.safe(coordinate, format!("{subject} changed"))
        }
        _ => {}
    }
}

/// A removed field or enum value, saying whether clients were warned by `@deprecated`.
fn removal(subject: &str, directives: &[Positioned<ConstDirective>]) -> String {
    match deprecation_reason(directives) {
        Some(_) => format!("deprecated {subject} removed"),
        None => format!("{subject} {REMOVED_WITHOUT_DEPRECATION}"),
    }
}

/// Deprecating is a notice, safe in itself (graphql-inspector); taking a deprecation back
/// is dangerous: clients may already have moved away, or planned on the removal.
pub(super) fn deprecation(
    coordinate: &str,
    subject: &str,
    old: &[Positioned<ConstDirective>],
    new: &[Positioned<ConstDirective>],
    changes: &mut Changes,
) {
    match (deprecation_reason(old), deprecation_reason(new)) {
        (None, Some(reason)) => changes.safe(coordinate, format!("{subject} deprecated: {reason}")),
        (Some(_), None) => changes.dangerous(coordinate, format!("{subject} no longer deprecated")),
        (Some(old), Some(new)) if old != new => {
            changes.safe(coordinate, format!("{subject} deprecation reason changed"))
        }
        _ => {}
    }
}

/// The reason of a `@deprecated` directive, with the spec's default when it gives none.
fn deprecation_reason(directives: &[Positioned<ConstDirective>]) -> Option<String> {
    let directive = directives
        .iter()
        .find(|d| d.node.name.node == "deprecated")?;
    let reason = directive
        .node
        .arguments
        .iter()
        .find(|(name, _)| name.node == "reason");
    Some(match reason.map(|(_, value)| &value.node) {
        Some(async_graphql::Value::String(reason)) => reason.clone(),
        Some(other) => other.to_string(),
        None => "No longer supported".to_owned(),
    })
}

/// Whether a client that reads values of the old output type can read the new one: the
/// same named type in the same lists, where a value may only become non-null.
fn output_compatible(old: &Type, new: &Type) -> bool {
    (old.nullable || !new.nullable)
        && match (&old.base, &new.base) {
            (BaseType::Named(old), BaseType::Named(new)) => old == new,
            (BaseType::List(old), BaseType::List(new)) => output_compatible(old, new),
            _ => false,
        }
}

pub(super) fn level(compatible: bool) -> Level {
    if compatible {
        Level::Safe
    } else {
        Level::Breaking
    }
}

/// A member of a type, compared with its counterpart by name.
pub(super) trait Named {
    fn name(&self) -> &str;
}

impl Named for FieldDefinition {
    fn name(&self) -> &str {
        &self.name.node
    }
}

impl Named for InputValueDefinition {
    fn name(&self) -> &str {
        &self.name.node
    }
}

impl Named for EnumValueDefinition {
    fn name(&self) -> &str {
        &self.value.node
    }
}

pub(super) fn find<'a, T: Named>(members: &[&'a T], name: &str) -> Option<&'a T> {
    members.iter().copied().find(|member| member.name() == name)
}

/// The members of `new` that `old` does not have, in their order.
pub(super) fn added<'a, T: Named>(old: &[&T], new: &[&'a T]) -> Vec<&'a T> {
    let new = new.iter().copied();
    new.filter(|member| find(old, member.name()).is_none())
        .collect()
}

fn nodes<T>(positioned: &[Positioned<T>]) -> Vec<&T> {
    positioned.iter().map(|item| &item.node).collect()
}

pub(super) fn text(description: &Option<Positioned<String>>) -> Option<&str> {
    description.as_ref().map(|d| d.node.as_str())
}

/// `FieldDefinition` → `FIELD_DEFINITION`, as SDL spells directive locations.
fn screaming_snake(camel: &str) -> String {
    let mut spelled = String::new();
    for (index, c) in camel.chars().enumerate() {
        if c.is_uppercase() && index > 0 {
            spelled.push('_');
        }
        spelled.push(c.to_ascii_uppercase());
    }
    spelled
}
