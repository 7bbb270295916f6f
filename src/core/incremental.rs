//! `@defer` and `@stream`, as the incremental-delivery proposal defines them: checked here,
//! since the schema that validates documents (async-graphql's) cannot declare executable
//! directives, and taken out of the document it validates. The engine reads them from the
//! document as the client wrote it (`engine::plan`).
//!
//! The rules: `@defer(if: Boolean! = true, label: String)` on fragment spreads and inline
//! fragments; `@stream(if: Boolean! = true, label: String, initialCount: Int! = 0)` on
//! fields of a list type; labels are string literals, unique in the document; neither may
//! appear in a mutation, whose fields run one after the other and whose writes a client
//! must see whole (`DEFER_IN_MUTATION`).

use std::collections::HashSet;

use async_graphql::parser::types::{
    BaseType, Directive, DocumentOperations, ExecutableDocument, OperationDefinition,
    OperationType, Selection, SelectionSet, VariableDefinition,
};
use async_graphql::registry::{MetaType, Registry as Schema};
use async_graphql::{Name, Pos, Positioned, ServerError};
use async_graphql_value::Value;

use super::document::operation;
use super::errors::code;

/// What the schema file says of the two directives: they are served, though introspection
/// cannot list them.
pub const DIRECTIVES_SDL: &str = r#""""
Delivers the fragment's fields in a later part of the answer, when the client accepts
`multipart/mixed` (deferSpec=20220824); the rest of the answer does not wait for them.
Not allowed in a mutation.
"""
directive @defer(if: Boolean! = true, label: String) on FRAGMENT_SPREAD | INLINE_FRAGMENT
"""
Delivers the list's first `initialCount` items with the rest of the answer, and its other
items in a later part, when the client accepts `multipart/mixed` (deferSpec=20220824).
Not allowed in a mutation.
"""
directive @stream(if: Boolean! = true, label: String, initialCount: Int! = 0) on FIELD
"#;

const NAMES: [&str; 2] = ["defer", "stream"];

/// The most `@defer` and `@stream` an operation may use: each is a part of the answer and a
/// walk over what is resolved, and a page needs a few.
pub const MAX_USES: usize = 32;

/// Whether `document` uses `@defer` or `@stream` anywhere.
pub(super) fn used(document: &ExecutableDocument) -> bool {
    let mut found = false;
    every_set(document, &mut |set| {
        found |= set.items.iter().any(|item| {
            (item.node.directives().iter()).any(|d| NAMES.contains(&d.node.name.node.as_str()))
        });
    });
    found
}

/// Checks the uses of `@defer` and `@stream` in operation `operation_name` of `document`
/// and the fragments it spreads. An operation that is not found is validation's to report.
pub(super) fn check(
    schema: &Schema,
    document: &ExecutableDocument,
    operation_name: Option<&str>,
) -> Result<(), Vec<ServerError>> {
    let Some(op) = operation(document, operation_name) else {
        return Ok(());
    };
    let root = match op.ty {
        OperationType::Query => schema.query_type.as_str(),
        OperationType::Mutation => schema.mutation_type.as_deref().unwrap_or_default(),
        OperationType::Subscription => schema.subscription_type.as_deref().unwrap_or_default(),
    };
    let mut check = Check {
        schema,
        document,
        variables: &op.variable_definitions,
        mutation: op.ty != OperationType::Query,
        labels: HashSet::new(),
        spread: HashSet::new(),
        uses: 0,
        errors: Vec::new(),
    };
    check.set(&op.selection_set.node, root);
    if check.uses > MAX_USES {
        let message = format!(
            "the operation uses @defer and @stream {} times; at most {MAX_USES} are allowed",
            check.uses
        );
        check.invalid(op.selection_set.pos, message);
    }
    if check.errors.is_empty() {
        Ok(())
    } else {
        Err(check.errors)
    }
}

/// `document` without `@defer` and `@stream`, and without the variables only they used,
/// for the validation that does not know them.
pub(super) fn without(document: &ExecutableDocument) -> ExecutableDocument {
    let mut stripped = document.clone();
    let mut theirs = HashSet::new();
    every_set(document, &mut |set| {
        for item in &set.items {
            for directive in item.node.directives() {
                if NAMES.contains(&directive.node.name.node.as_str()) {
                    for (_, value) in &directive.node.arguments {
                        variables_in(&value.node, &mut theirs);
                    }
                }
            }
        }
    });
    every_set_mut(&mut stripped, &mut |set| {
        for item in &mut set.items {
            let directives = match &mut item.node {
                Selection::Field(field) => &mut field.node.directives,
                Selection::FragmentSpread(spread) => &mut spread.node.directives,
                Selection::InlineFragment(inline) => &mut inline.node.directives,
            };
            directives.retain(|d| !NAMES.contains(&d.node.name.node.as_str()));
        }
    });
    let mut used = HashSet::new();
    every_set(&stripped, &mut |set| {
        for item in &set.items {
            for directive in item.node.directives() {
                for (_, value) in &directive.node.arguments {
                    variables_in(&value.node, &mut used);
                }
            }
            if let Selection::Field(field) = &item.node {
                for (_, value) in &field.node.arguments {
                    variables_in(&value.node, &mut used);
                }
            }
        }
    });
    for op in operations_mut(&mut stripped) {
        op.variable_definitions.retain(|definition| {
            let name = &definition.node.name.node;
            !theirs.contains(name) || used.contains(name)
        });
    }
    stripped
}

struct Check<'a> {
    schema: &'a Schema,
    document: &'a ExecutableDocument,
    variables: &'a [Positioned<VariableDefinition>],
    mutation: bool,
    labels: HashSet<&'a str>,
    /// The fragments checked already.
    spread: HashSet<&'a Name>,
    /// The uses of `@defer` and `@stream` seen, each fragment's once.
    uses: usize,
    errors: Vec<ServerError>,
}

impl<'a> Check<'a> {
    /// Checks `set`, selected on `type_name`, and what it spreads.
    fn set(&mut self, set: &'a SelectionSet, type_name: &'a str) {
        for item in &set.items {
            match &item.node {
                Selection::Field(field) => {
                    let name = field.node.name.node.as_str();
                    let ty = self.field_type(type_name, name);
                    let list = ty.is_some_and(|ty| ty.starts_with('['));
                    self.directives(&field.node.directives, Place::Field { list, name });
                    if let Some(ty) = ty {
                        let named = ty.trim_matches(|c| matches!(c, '[' | ']' | '!'));
                        self.set(&field.node.selection_set.node, named);
                    }
                }
                Selection::FragmentSpread(spread) => {
                    self.directives(&spread.node.directives, Place::Fragment);
                    let name = &spread.node.fragment_name.node;
                    if let Some(fragment) = self.document.fragments.get(name)
                        && self.spread.insert(name)
                    {
                        let on = fragment.node.type_condition.node.on.node.as_str();
                        self.set(&fragment.node.selection_set.node, on);
                    }
                }
                Selection::InlineFragment(inline) => {
                    self.directives(&inline.node.directives, Place::Fragment);
                    let on = (inline.node.type_condition.as_ref())
                        .map_or(type_name, |c| c.node.on.node.as_str());
                    self.set(&inline.node.selection_set.node, on);
                }
            }
        }
    }

    /// The type of field `name` of `type_name`, as the schema writes it (`[Product!]!`).
    fn field_type(&self, type_name: &str, name: &str) -> Option<&'a str> {
        match self.schema.types.get(type_name)? {
            MetaType::Object { fields, .. } | MetaType::Interface { fields, .. } => {
                Some(fields.get(name)?.ty.as_str())
            }
            _ => None,
        }
    }

    fn directives(&mut self, directives: &'a [Positioned<Directive>], place: Place<'_>) {
        let mut seen = Vec::new();
        for directive in directives {
            let name = directive.node.name.node.as_str();
            if !NAMES.contains(&name) {
                continue;
            }
            let pos = directive.pos;
            self.uses += 1;
            if self.mutation {
                self.refuse(
                    pos,
                    code::DEFER_IN_MUTATION,
                    format!(
                        "@{name} is not allowed in a mutation: its fields run one after the \
                         other and are answered whole"
                    ),
                );
                continue;
            }
            if seen.contains(&name) {
                self.invalid(pos, format!("@{name} is given twice here"));
            }
            seen.push(name);
            match (name, &place) {
                ("defer", Place::Field { .. }) => self.invalid(
                    pos,
                    "@defer goes on a fragment spread or an inline fragment",
                ),
                ("stream", Place::Fragment) => self.invalid(pos, "@stream goes on a list field"),
                ("stream", Place::Field { list: false, name }) => self.invalid(
                    pos,
                    format!("@stream goes on a list field; {name} is not one"),
                ),
                _ => {}
            }
            for (argument, value) in &directive.node.arguments {
                let wanted = match (name, argument.node.as_str()) {
                    (_, "if") => Wanted::Boolean,
                    (_, "label") => Wanted::Label,
                    ("stream", "initialCount") => Wanted::Count,
                    (_, other) => {
                        self.invalid(pos, format!("@{name} has no argument `{other}`"));
                        continue;
                    }
                };
                self.argument(name, argument.node.as_str(), &value.node, wanted, pos);
            }
        }
    }

    fn argument(
        &mut self,
        directive: &str,
        name: &str,
        value: &'a Value,
        wanted: Wanted,
        pos: Pos,
    ) {
        let type_name = match (wanted, value) {
            (Wanted::Label, Value::String(label)) => {
                if !self.labels.insert(label.as_str()) {
                    self.invalid(pos, format!("the label {label:?} is used twice"));
                }
                return;
            }
            (Wanted::Label, _) => {
                return self.invalid(pos, format!("@{directive}'s label must be a string"));
            }
            (Wanted::Boolean, Value::Boolean(_)) => return,
            (Wanted::Count, Value::Number(n)) if n.as_u64().is_some() => return,
            (Wanted::Boolean, Value::Variable(_)) => "Boolean",
            (Wanted::Count, Value::Variable(_)) => "Int",
            (Wanted::Boolean, _) => {
                return self.invalid(pos, format!("@{directive}'s `{name}` must be a Boolean"));
            }
            (Wanted::Count, _) => {
                return self.invalid(
                    pos,
                    format!("@{directive}'s `{name}` must be an Int of 0 or more"),
                );
            }
        };
        let Value::Variable(variable) = value else {
            return;
        };
        let defined = (self.variables.iter()).find(|d| d.node.name.node == *variable);
        match defined.map(|d| &d.node.var_type.node.base) {
            Some(BaseType::Named(named)) if named.as_str() == type_name => {}
            Some(_) => self.invalid(
                pos,
                format!("${variable} is not a {type_name}, as @{directive}'s `{name}` needs"),
            ),
            None => self.invalid(pos, format!("${variable} is not defined by the operation")),
        }
    }

    fn invalid(&mut self, pos: Pos, message: impl Into<String>) {
        self.refuse(pos, code::GRAPHQL_VALIDATION_FAILED, message.into());
    }

    fn refuse(&mut self, pos: Pos, code: &str, message: String) {
        let mut error = ServerError::new(message, Some(pos));
        (error.extensions.get_or_insert_with(Default::default)).set("code", code);
        self.errors.push(error);
    }
}

/// Where a directive is.
enum Place<'n> {
    Fragment,
    Field { list: bool, name: &'n str },
}

/// What an argument must be.
#[derive(Clone, Copy)]
enum Wanted {
    Boolean,
    Label,
    Count,
}

/// The names of the variables in `value`.
fn variables_in(value: &Value, out: &mut HashSet<Name>) {
    match value {
        Value::Variable(name) => {
            out.insert(name.clone());
        }
        Value::List(items) => items.iter().for_each(|v| variables_in(v, out)),
        Value::Object(fields) => fields.values().for_each(|v| variables_in(v, out)),
        _ => {}
    }
}

/// Calls `visit` with every selection set of `document`'s operations and fragments.
fn every_set(document: &ExecutableDocument, visit: &mut dyn FnMut(&SelectionSet)) {
    fn walk(set: &SelectionSet, visit: &mut dyn FnMut(&SelectionSet)) {
        visit(set);
        for item in &set.items {
            match &item.node {
                Selection::Field(field) => walk(&field.node.selection_set.node, visit),
                Selection::InlineFragment(inline) => walk(&inline.node.selection_set.node, visit),
                Selection::FragmentSpread(_) => {}
            }
        }
    }
    for (_, op) in document.operations.iter() {
        walk(&op.node.selection_set.node, visit);
    }
    for fragment in document.fragments.values() {
        walk(&fragment.node.selection_set.node, visit);
    }
}

/// `every_set`, for changing them.
fn every_set_mut(document: &mut ExecutableDocument, visit: &mut dyn FnMut(&mut SelectionSet)) {
    fn walk(set: &mut SelectionSet, visit: &mut dyn FnMut(&mut SelectionSet)) {
        visit(set);
        for item in &mut set.items {
            match &mut item.node {
                Selection::Field(field) => walk(&mut field.node.selection_set.node, visit),
                Selection::InlineFragment(inline) => {
                    walk(&mut inline.node.selection_set.node, visit)
                }
                Selection::FragmentSpread(_) => {}
            }
        }
    }
    for op in operations_mut(document) {
        walk(&mut op.selection_set.node, visit);
    }
    for fragment in document.fragments.values_mut() {
        walk(&mut fragment.node.selection_set.node, visit);
    }
}

fn operations_mut(document: &mut ExecutableDocument) -> Vec<&mut OperationDefinition> {
    match &mut document.operations {
        DocumentOperations::Single(op) => vec![&mut op.node],
        DocumentOperations::Multiple(ops) => ops.values_mut().map(|op| &mut op.node).collect(),
    }
}

#[cfg(test)]
mod tests;
