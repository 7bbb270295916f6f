//! Run layer, schema comparison of input values: the arguments of fields and directives,
//! and the fields of input objects. Clients send them, so the rules mirror those of output
//! fields: a type may only become more permissive, and nothing new may be required.

use async_graphql::parser::types::{BaseType, InputValueDefinition, Type};

use super::diff::{Changes, Level};
use super::members::{Named as _, added, deprecation, description, find, level, text};

/// Where input values live; what a change to them is called and how much it matters.
pub(super) enum Inputs<'a> {
    /// The arguments of the field at this coordinate.
    Arguments(&'a str),
    /// The arguments of the directive at this coordinate.
    DirectiveArguments(&'a str),
    /// The fields of the input object of this name.
    InputFields(&'a str),
}

impl Inputs<'_> {
    /// The coordinate a change to the input value `name` is reported at, and what it is
    /// called in the message.
    fn place(&self, name: &str) -> (String, String) {
        match self {
            Inputs::Arguments(owner) | Inputs::DirectiveArguments(owner) => {
                ((*owner).to_owned(), format!("argument {name}"))
            }
            Inputs::InputFields(owner) => (format!("{owner}.{name}"), "input field".to_owned()),
        }
    }

    /// graphql-js counts an added optional field argument or input field as dangerous (a
    /// client may now get a different result by default); a directive's, as safe.
    fn optional_added(&self) -> Level {
        match self {
            Inputs::DirectiveArguments(_) => Level::Safe,
            Inputs::Arguments(_) | Inputs::InputFields(_) => Level::Dangerous,
        }
    }
}

/// Arguments and input fields: a client sends them, so they may become nullable but not
/// non-null, and a new one must not be required.
pub(super) fn input_values(
    inputs: &Inputs,
    old: &[&InputValueDefinition],
    new: &[&InputValueDefinition],
    changes: &mut Changes,
) {
    for old_value in old {
        let (coordinate, subject) = inputs.place(old_value.name());
        let Some(new_value) = find(new, old_value.name()) else {
            changes.breaking(&coordinate, format!("{subject} removed"));
            continue;
        };
        let (old_type, new_type) = (&old_value.ty.node, &new_value.ty.node);
        if old_type != new_type {
            let level = level(input_compatible(old_type, new_type));
            let message = format!("{subject} type changed from {old_type} to {new_type}");
            changes.push(level, &coordinate, message);
        }
        let default =
            |value: &InputValueDefinition| value.default_value.as_ref().map(|v| v.node.to_string());
        if let Some(message) = default_change(default(old_value), default(new_value)) {
            changes.dangerous(&coordinate, format!("{subject} {message}"));
        }
        let (old_text, new_text) = (text(&old_value.description), text(&new_value.description));
        description(
            &coordinate,
            &format!("{subject} description"),
            old_text,
            new_text,
            changes,
        );
        deprecation(
            &coordinate,
            &subject,
            &old_value.directives,
            &new_value.directives,
            changes,
        );
    }
    for new_value in added(old, new) {
        let (coordinate, subject) = inputs.place(new_value.name());
        if !new_value.ty.node.nullable && new_value.default_value.is_none() {
            changes.breaking(&coordinate, format!("required {subject} added"));
        } else {
            changes.push(
                inputs.optional_added(),
                &coordinate,
                format!("optional {subject} added"),
            );
        }
    }
}

/// A changed default changes what operations that omit the value get: dangerous.
fn default_change(old: Option<String>, new: Option<String>) -> Option<String> {
    match (old, new) {
        (None, Some(new)) => Some(format!("default value {new} added")),
        (Some(old), None) => Some(format!("default value {old} removed")),
        (Some(old), Some(new)) if old != new => {
            Some(format!("default value changed from {old} to {new}"))
        }
        _ => None,
    }
}

/// Whether every value a client could send as the old input type is valid for the new one:
/// the same named type in the same lists, where a value may only become nullable.
fn input_compatible(old: &Type, new: &Type) -> bool {
    (!old.nullable || new.nullable)
        && match (&old.base, &new.base) {
            (BaseType::Named(old), BaseType::Named(new)) => old == new,
            (BaseType::List(old), BaseType::List(new)) => input_compatible(old, new),
            _ => false,
        }
}
