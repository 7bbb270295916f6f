//! The checks an engine is built with: that the modules' registrations and the declared
//! schema are the same fields, types and inputs (see `Engine::new`).

use super::registry::{FieldDef, Registry};

impl Registry {
    /// Where the Rust types of `input` and the schema's differ: a field or value one has and
    /// the other has not, another type, a default on one side only.
    pub(crate) fn input_mismatches(
        &self,
        schema: &async_graphql::registry::Registry,
    ) -> Vec<String> {
        let mut rust = async_graphql::registry::Registry::default();
        for create in &self.inputs {
            create(&mut rust);
        }
        let mut found = Vec::new();
        for (name, meta) in &rust.types {
            let declared = schema.types.get(name).map(input_shape);
            match (input_shape(meta), declared) {
                (InputShape::Scalar, Some(InputShape::Scalar)) => {}
                (ours, Some(theirs)) if ours == theirs => {}
                (ours, theirs) => found.push(format!(
                    "{name} is {ours:?} in Rust and {theirs:?} in the schema"
                )),
            }
        }
        found.sort();
        found
    }

    /// Types whose objects are not of the Rust type that a field giving them produces:
    /// a mistake of registration, reported when the engine is built.
    pub(crate) fn mismatches(&self) -> Vec<String> {
        let mut found = Vec::new();
        for def in self.objects.values() {
            found.extend(def.conflicts.iter().cloned());
        }
        for (type_name, node) in &self.nodes.types {
            match self.objects.get(type_name) {
                Some(def) if def.type_id == node.type_id => {}
                Some(def) => found.push(format!(
                    "{type_name} loads by id as {}, its fields are registered for {}",
                    node.rust_name, def.rust_name
                )),
                None => found.push(format!("{type_name} loads by id and has no fields")),
            }
        }
        for (type_name, def) in &self.objects {
            for (field, field_def) in &def.fields {
                let FieldDef::Resolve {
                    child: Some((child_id, child_type)),
                    ..
                } = field_def
                else {
                    continue;
                };
                match self.objects.get(child_type) {
                    Some(child) if child.type_id == *child_id => {}
                    Some(child) => found.push(format!(
                        "{type_name}.{field} gives objects that are not {child_type}'s {}",
                        child.rust_name
                    )),
                    None => found.push(format!(
                        "{type_name}.{field} gives {child_type}, which has no fields here"
                    )),
                }
            }
        }
        found
    }

    /// Where the registrations and `schema` disagree: an object field of the schema that no
    /// module resolves, or a registered field the schema does not have.
    pub(crate) fn uncovered(&self, schema: &async_graphql::registry::Registry) -> Vec<String> {
        let mut found = Vec::new();
        for (type_name, meta) in &schema.types {
            let async_graphql::registry::MetaType::Object { fields, .. } = meta else {
                continue;
            };
            if type_name.starts_with("__") {
                continue;
            }
            let registered = self.objects.get(type_name.as_str());
            for field in fields.keys().filter(|f| !f.starts_with("__")) {
                if !registered.is_some_and(|r| r.fields.contains_key(field.as_str())) {
                    found.push(format!(
                        "{type_name}.{field} is in the schema, and no module resolves it"
                    ));
                }
            }
        }
        let node_types = match schema.types.get("Node") {
            Some(async_graphql::registry::MetaType::Interface { possible_types, .. }) => {
                possible_types.iter().map(String::as_str).collect()
            }
            _ => Vec::new(),
        };
        for type_name in &node_types {
            if !self.nodes.types.contains_key(type_name) {
                found.push(format!(
                    "{type_name} is a Node, and no module loads it by id"
                ));
            }
        }
        for type_name in self.nodes.types.keys() {
            if !node_types.contains(type_name) {
                found.push(format!("{type_name} loads by id, and is not a Node"));
            }
        }
        for (type_name, def) in &self.objects {
            let fields = match schema.types.get(*type_name) {
                Some(async_graphql::registry::MetaType::Object { fields, .. }) => Some(fields),
                _ => None,
            };
            for field in def.fields.keys() {
                if !fields.is_some_and(|f| f.contains_key(*field)) {
                    found.push(format!(
                        "{type_name}.{field} is resolved, and not in the schema"
                    ));
                }
            }
        }
        found.sort();
        found
    }
}

/// What an input type is, as far as the engine's parsing relies on it.
#[derive(Debug, PartialEq)]
enum InputShape {
    Scalar,
    /// Fields: name, type, whether it has a default.
    Object(Vec<(String, String, bool)>),
    Enum(Vec<String>),
    Other,
}

fn input_shape(meta: &async_graphql::registry::MetaType) -> InputShape {
    use async_graphql::registry::MetaType;
    match meta {
        MetaType::Scalar { .. } => InputShape::Scalar,
        MetaType::InputObject { input_fields, .. } => InputShape::Object(
            input_fields
                .values()
                .map(|f| (f.name.clone(), f.ty.clone(), f.default_value.is_some()))
                .collect(),
        ),
        MetaType::Enum { enum_values, .. } => {
            InputShape::Enum(enum_values.keys().cloned().collect())
        }
        _ => InputShape::Other,
    }
}
