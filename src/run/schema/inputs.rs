//! Run layer, schema comparison of input values: the arguments of fields and directives,
//! and the fields of input objects. Clients send them, so the rules mirror those of output
//! fields: a type may only become more permissive, and nothing new may be required.

use async_graphql::parser::types::{BaseType, InputValueDefinition, Type};
use async_graphql::{Number, Value};

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
        let (old_default, new_default) = (default(old_value), default(new_value));
        if let Some(message) = default_change(new_type, old_default, new_default) {
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

fn default(value: &InputValueDefinition) -> Option<&Value> {
    value.default_value.as_ref().map(|default| &default.node)
}

/// A changed default changes what operations that omit the value get: dangerous. The
/// defaults are compared as values of the (new) input type, not as text.
fn default_change(ty: &Type, old: Option<&Value>, new: Option<&Value>) -> Option<String> {
    match (old, new) {
        (None, Some(new)) => Some(format!("default value {new} added")),
        (Some(old), None) => Some(format!("default value {old} removed")),
        (Some(old), Some(new)) if !same_value(Some(ty), old, new) => {
            Some(format!("default value changed from {old} to {new}"))
        }
        _ => None,
    }
}

/// Whether two defaults are the same value of the input type `ty`, however each is written:
/// graphql-js prints a default from introspection as it coerced it, so the Float `1.0`
/// comes back as `1`, the ID `"7"` as `7` and the single item of a list type as a list; the
/// fields of an object may come in any order. Within an input object the field types are
/// not known here (`ty` is `None`), and neither are the defaults of the fields it omits,
/// which graphql-js prints filled in.
fn same_value(ty: Option<&Type>, old: &Value, new: &Value) -> bool {
    let item = ty.and_then(|ty| match &ty.base {
        BaseType::List(item) => Some(item.as_ref()),
        BaseType::Named(_) => None,
    });
    let is_id = ty.is_some_and(|ty| matches!(&ty.base, BaseType::Named(name) if name == "ID"));
    match (old, new) {
        (Value::Number(old), Value::Number(new)) => same_number(old, new),
        (Value::List(old), Value::List(new)) => {
            old.len() == new.len() && old.iter().zip(new).all(|(o, n)| same_value(item, o, n))
        }
        (Value::Object(old), Value::Object(new)) => {
            old.len() == new.len()
                && old
                    .iter()
                    .all(|(name, o)| new.get(name).is_some_and(|n| same_value(None, o, n)))
        }
        (Value::List(items), single) | (single, Value::List(items))
            if item.is_some() && !matches!(single, Value::Null) =>
        {
            matches!(items.as_slice(), [only] if same_value(item, only, single))
        }
        (Value::Number(number), Value::String(id)) | (Value::String(id), Value::Number(number))
            if is_id =>
        {
            !number.is_f64() && number.to_string() == *id
        }
        (Value::Null, Value::Null) => true,
        (Value::String(old), Value::String(new)) => old == new,
        (Value::Boolean(old), Value::Boolean(new)) => old == new,
        // Not `Value`'s `==`, which takes the enum value `RED` for the string `"RED"`.
        (Value::Enum(old), Value::Enum(new)) => old == new,
        (Value::Binary(old), Value::Binary(new)) => old == new,
        _ => false,
    }
}

/// Numbers compare as numbers: integers exactly, a float with anything as a float.
fn same_number(old: &Number, new: &Number) -> bool {
    if old.is_f64() || new.is_f64() {
        old.as_f64() == new.as_f64()
    } else {
        (old.as_i64(), old.as_u64()) == (new.as_i64(), new.as_u64())
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
