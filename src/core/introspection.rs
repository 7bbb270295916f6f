//! The cost of introspection: how many values a `__schema` or `__type` field will return,
//! counted over this schema's own types before anything runs.
//!
//! Validation's complexity weighs every field 1 and multiplies only connections, so to it
//! `__schema { types { fields { args { … } } } }` costs a handful of points while it returns
//! thousands of values. Here each selected introspection field is counted once for every
//! object it will be resolved on, as execution would: `types` for every type of the
//! registry, `fields` for every field of each, `ofType` only as deep as each type reference
//! is wrapped (past that it is one null). Arguments that would shrink a list
//! (`includeDeprecated: false`) are ignored, and fragments are counted whatever their type
//! condition, so the count is never below what the response holds.
//!
//! The count stops once it passes the limit it is given, so a document built to multiply
//! (aliased copies of `__schema`, `fields { type { fields … } }` loops) costs the gateway at
//! most that many steps to refuse.

use std::collections::HashMap;

use async_graphql::parser::types::{
    ExecutableDocument, Field, FragmentDefinition, Selection, SelectionSet,
};
use async_graphql::registry::{MetaDirective, MetaField, MetaInputValue, MetaType, Registry};
use async_graphql::{Name, Positioned, Value, Variables};

/// The values the introspection fields of `document`'s costliest operation return, or
/// `limit + 1` once the count passes `limit`.
pub fn cost(
    registry: &Registry,
    document: &ExecutableDocument,
    variables: &Variables,
    limit: usize,
) -> usize {
    let mut most = 0;
    for (_, operation) in document.operations.iter() {
        let mut count = Count {
            registry,
            fragments: &document.fragments,
            variables,
            total: 0,
            limit,
        };
        count.root(&operation.node.selection_set.node);
        most = most.max(count.total);
        if most > limit {
            return limit + 1;
        }
    }
    most
}

/// Whether a field reads the schema.
pub fn is_introspection(name: &str) -> bool {
    name == "__schema" || name == "__type"
}

/// Whether the document asks for the schema (`__schema` or `__type`), anywhere.
pub fn selects_introspection(document: &ExecutableDocument) -> bool {
    let mut sets: Vec<&SelectionSet> = document
        .operations
        .iter()
        .map(|(_, op)| &op.node.selection_set.node)
        .chain(
            document
                .fragments
                .values()
                .map(|f| &f.node.selection_set.node),
        )
        .collect();
    while let Some(set) = sets.pop() {
        for item in &set.items {
            match &item.node {
                Selection::Field(field) => {
                    if is_introspection(field.node.name.node.as_str()) {
                        return true;
                    }
                    sets.push(&field.node.selection_set.node);
                }
                Selection::InlineFragment(inline) => sets.push(&inline.node.selection_set.node),
                Selection::FragmentSpread(_) => {}
            }
        }
    }
    false
}

/// An introspection object, as execution would meet it.
#[derive(Clone, Copy)]
enum Node<'a> {
    Schema,
    Type(TypeRef<'a>),
    Field(&'a MetaField),
    InputValue(&'a MetaInputValue),
    EnumValue,
    Directive(&'a MetaDirective),
}

/// A type reference, as `__Type` presents it: a named type, or a list or non-null wrapping
/// the type written inside.
#[derive(Clone, Copy)]
enum TypeRef<'a> {
    Named(&'a str),
    Wrapping(&'a str),
}

impl<'a> TypeRef<'a> {
    /// `[Product!]!` wraps `[Product!]`, which wraps `Product!`, which wraps `Product`.
    fn parse(ty: &'a str) -> Self {
        if let Some(inner) = ty.strip_suffix('!') {
            TypeRef::Wrapping(inner)
        } else if let Some(inner) = ty.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
            TypeRef::Wrapping(inner)
        } else {
            TypeRef::Named(ty)
        }
    }
}

struct Count<'a> {
    registry: &'a Registry,
    fragments: &'a HashMap<Name, Positioned<FragmentDefinition>>,
    variables: &'a Variables,
    total: usize,
    limit: usize,
}

impl<'a> Count<'a> {
    fn over(&self) -> bool {
        self.total > self.limit
    }

    /// The operation's root: only `__schema` and `__type` are introspection (validation
    /// refuses them anywhere else).
    fn root(&mut self, set: &'a SelectionSet) {
        let fragments = self.fragments;
        each_field(fragments, set, &mut |field| {
            let children = &field.selection_set.node;
            match field.name.node.as_str() {
                "__schema" => {
                    self.total += 1;
                    self.object(children, Node::Schema);
                }
                "__type" => {
                    self.total += 1;
                    if let Some(name) = self.type_name(field) {
                        self.object(children, Node::Type(TypeRef::Named(name)));
                    }
                }
                _ => {}
            }
        });
    }

    /// The `name` argument of `__type`, written or from a variable, if it names a type.
    fn type_name(&self, field: &'a Field) -> Option<&'a str> {
        let value = field
            .get_argument("name")?
            .node
            .clone()
            .into_const_with(|variable| self.variables.get(&variable).cloned().ok_or(()))
            .ok()?;
        let Value::String(name) = value else {
            return None;
        };
        self.registry
            .types
            .get_key_value(name.as_str())
            .map(|(name, _)| name.as_str())
    }

    /// Counts `set` on each of `nodes`.
    fn objects(&mut self, set: &'a SelectionSet, nodes: impl Iterator<Item = Node<'a>>) {
        for node in nodes {
            if self.over() {
                return;
            }
            self.object(set, node);
        }
    }

    /// Counts `set` resolved on `node`: each field one value, and what its children return.
    fn object(&mut self, set: &'a SelectionSet, node: Node<'a>) {
        let fragments = self.fragments;
        each_field(fragments, set, &mut |field| {
            // Past the limit the rest is not counted: the answer is a refusal already.
            if !self.over() {
                self.total += 1;
                self.children(field, node);
            }
        });
    }

    fn children(&mut self, field: &'a Field, node: Node<'a>) {
        let set = &field.selection_set.node;
        let registry = self.registry;
        let named = |name: &'a str| Node::Type(TypeRef::Named(name));
        match (node, field.name.node.as_str()) {
            (Node::Schema, "types") => {
                self.objects(set, registry.types.keys().map(|name| named(name)))
            }
            (Node::Schema, "queryType") => self.object(set, named(&registry.query_type)),
            (Node::Schema, "mutationType") => {
                self.objects(set, registry.mutation_type.iter().map(|name| named(name)))
            }
            (Node::Schema, "subscriptionType") => self.objects(
                set,
                registry.subscription_type.iter().map(|name| named(name)),
            ),
            (Node::Schema, "directives") => {
                self.objects(set, registry.directives.values().map(Node::Directive))
            }
            (Node::Type(TypeRef::Wrapping(inner)), "ofType") => {
                self.object(set, Node::Type(TypeRef::parse(inner)))
            }
            (Node::Type(TypeRef::Named(name)), member) => {
                let Some(meta) = registry.types.get(name) else {
                    return;
                };
                self.members(set, name, meta, member);
            }
            (Node::Field(meta), "args") => {
                self.objects(set, meta.args.values().map(Node::InputValue))
            }
            (Node::Field(meta), "type") => self.object(set, Node::Type(TypeRef::parse(&meta.ty))),
            (Node::InputValue(meta), "type") => {
                self.object(set, Node::Type(TypeRef::parse(&meta.ty)))
            }
            (Node::Directive(meta), "args") => {
                self.objects(set, meta.args.values().map(Node::InputValue))
            }
            // Scalars, lists of scalars, and nulls (`ofType` of a named type, `fields` of a
            // wrapping): the one value counted already.
            _ => {}
        }
    }

    /// The lists a named type has: its fields, interfaces, possible types, values and input
    /// fields.
    fn members(&mut self, set: &'a SelectionSet, name: &'a str, meta: &'a MetaType, member: &str) {
        let registry = self.registry;
        let named = |name: &'a String| Node::Type(TypeRef::Named(name));
        match member {
            "fields" => {
                if let Some(fields) = meta.fields() {
                    self.objects(set, fields.values().map(Node::Field));
                }
            }
            "interfaces" => {
                if let Some(interfaces) = registry.implements.get(name) {
                    self.objects(set, interfaces.iter().map(named));
                }
            }
            "possibleTypes" => {
                if let Some(possible) = meta.possible_types() {
                    self.objects(set, possible.iter().map(named));
                }
            }
            "enumValues" => {
                if let MetaType::Enum { enum_values, .. } = meta {
                    self.objects(set, enum_values.values().map(|_| Node::EnumValue));
                }
            }
            "inputFields" => {
                if let MetaType::InputObject { input_fields, .. } = meta {
                    self.objects(set, input_fields.values().map(Node::InputValue));
                }
            }
            _ => {}
        }
    }
}

/// Where the operation asks for `__schema { description }`: the response keys of each
/// `__schema` field and of its `description` fields. Empty for any other operation; only
/// root fields are looked at, where validation allows `__schema`.
pub fn schema_descriptions(
    document: &ExecutableDocument,
    operation_name: Option<&str>,
) -> Vec<(Name, Name)> {
    schema_fields(document, operation_name, "description")
}

/// Where the operation asks for `__schema { directives }`, as `schema_descriptions`.
pub fn schema_directives(
    document: &ExecutableDocument,
    operation_name: Option<&str>,
) -> Vec<(Name, Name)> {
    schema_fields(document, operation_name, "directives")
}

/// The response keys of each `__schema` field and of its `field_name` fields.
fn schema_fields(
    document: &ExecutableDocument,
    operation_name: Option<&str>,
    field_name: &str,
) -> Vec<(Name, Name)> {
    let operation = document
        .operations
        .iter()
        .find(|(name, _)| operation_name.is_none() || name.map(|n| n.as_str()) == operation_name);
    let Some((_, operation)) = operation else {
        return Vec::new();
    };
    let fragments = &document.fragments;
    let mut keys = Vec::new();
    each_field(
        fragments,
        &operation.node.selection_set.node,
        &mut |schema| {
            if schema.name.node == "__schema" {
                each_field(fragments, &schema.selection_set.node, &mut |field| {
                    if field.name.node == field_name {
                        keys.push((field_key(schema).clone(), field_key(field).clone()));
                    }
                });
            }
        },
    );
    keys
}

/// Sets the schema descriptions at `keys` (from `schema_descriptions`) to null, as the spec
/// says a schema without a description answers. async-graphql answers with the text that
/// describes the `__Schema` type itself, which clients would print as this schema's
/// description (graphql-js's `printSchema` does).
pub fn clear_schema_descriptions(keys: &[(Name, Name)], data: &mut Value) {
    let Value::Object(root) = data else {
        return;
    };
    for (schema, description) in keys {
        if let Some(Value::Object(answer)) = root.get_mut(schema)
            && let Some(value) = answer.get_mut(description)
        {
            *value = Value::Null;
        }
    }
}

/// Adds `@defer` and `@stream` to the directives the answer lists at `keys` (from
/// `schema_directives`). The executor serves them, but the schema that answers
/// introspection cannot declare them (async-graphql's dynamic schema declares only the
/// specified directives), so the same request is answered by a schema of no types that
/// declares them, and its entries for the two are added. A document that asks that schema
/// for more than introspection adds nothing.
pub async fn add_incremental_directives(
    request: async_graphql::Request,
    keys: &[(Name, Name)],
    data: &mut Value,
) {
    let mut request = request;
    request.introspection_mode = async_graphql::IntrospectionMode::IntrospectionOnly;
    let answered = directives_schema().execute(request).await;
    if answered.is_err() {
        return;
    }
    let (Value::Object(root), Value::Object(theirs)) = (data, answered.data) else {
        return;
    };
    for (schema, directives) in keys {
        let ours = root.get_mut(schema).and_then(|answer| match answer {
            Value::Object(answer) => answer.get_mut(directives),
            _ => None,
        });
        let theirs = theirs.get(schema).and_then(|answer| match answer {
            Value::Object(answer) => answer.get(directives),
            _ => None,
        });
        if let (Some(Value::List(ours)), Some(Value::List(theirs))) = (ours, theirs) {
            let added: Vec<Value> = (theirs.iter())
                .filter(|entry| !ours.contains(entry))
                .cloned()
                .collect();
            ours.extend(added);
        }
    }
}

/// A schema with no types of its own that declares `@defer` and `@stream` as
/// `incremental::DIRECTIVES_SDL` defines them.
fn directives_schema() -> &'static async_graphql::Schema<
    async_graphql::EmptyMutation,
    async_graphql::EmptyMutation,
    async_graphql::EmptySubscription,
> {
    use async_graphql::parser::types::{DirectiveLocation, TypeSystemDefinition};
    use async_graphql::registry::{__DirectiveLocation as At, Deprecation, MetaDirective};
    use async_graphql::{EmptyMutation, EmptySubscription};

    /// Declares a directive; it never runs, since the engine executes operations.
    struct Declared(MetaDirective);

    impl async_graphql::CustomDirectiveFactory for Declared {
        fn name(&self) -> std::borrow::Cow<'static, str> {
            self.0.name.clone().into()
        }

        fn register(&self, registry: &mut Registry) {
            let declared = &self.0;
            registry.add_directive(MetaDirective {
                name: declared.name.clone(),
                description: declared.description.clone(),
                locations: declared.locations.clone(),
                args: declared.args.clone(),
                is_repeatable: declared.is_repeatable,
                visible: None,
                composable: None,
            });
        }

        fn create(
            &self,
            _: &async_graphql::ContextDirective<'_>,
            _: &async_graphql::parser::types::Directive,
        ) -> async_graphql::ServerResult<Box<dyn async_graphql::CustomDirective>> {
            Err(async_graphql::ServerError::new("not executed here", None))
        }
    }

    static SCHEMA: std::sync::OnceLock<
        async_graphql::Schema<EmptyMutation, EmptyMutation, EmptySubscription>,
    > = std::sync::OnceLock::new();
    SCHEMA.get_or_init(|| {
        let mut builder =
            async_graphql::Schema::build(EmptyMutation, EmptyMutation, EmptySubscription);
        let defined = async_graphql::parser::parse_schema(crate::core::incremental::DIRECTIVES_SDL);
        let definitions = defined.map(|d| d.definitions).unwrap_or_default();
        for definition in definitions {
            let TypeSystemDefinition::Directive(directive) = definition else {
                continue;
            };
            let directive = directive.node;
            let args = (directive.arguments.iter()).map(|arg| {
                let value = MetaInputValue {
                    name: arg.node.name.node.to_string(),
                    description: arg.node.description.as_ref().map(|d| d.node.clone()),
                    ty: arg.node.ty.node.to_string(),
                    deprecation: Deprecation::NoDeprecated,
                    default_value: arg.node.default_value.as_ref().map(|v| v.node.to_string()),
                    visible: None,
                    inaccessible: false,
                    tags: Vec::new(),
                    is_secret: false,
                    directive_invocations: Vec::new(),
                };
                (value.name.clone(), value)
            });
            let locations = (directive.locations.iter())
                .filter_map(|at| match at.node {
                    DirectiveLocation::Field => Some(At::FIELD),
                    DirectiveLocation::FragmentSpread => Some(At::FRAGMENT_SPREAD),
                    DirectiveLocation::InlineFragment => Some(At::INLINE_FRAGMENT),
                    _ => None,
                })
                .collect();
            builder = builder.directive(Declared(MetaDirective {
                name: directive.name.node.to_string(),
                description: directive.description.map(|d| d.node),
                locations,
                args: args.collect(),
                is_repeatable: directive.is_repeatable,
                visible: None,
                composable: None,
            }));
        }
        builder.finish()
    })
}

/// The key a field answers under: its alias, else its name.
fn field_key(field: &Field) -> &Name {
    &field.alias.as_ref().unwrap_or(&field.name).node
}

/// Calls `each` with the fields of `set` as written, through inline fragments and fragment
/// spreads; a spread inside itself (a cycle, which validation refuses later) is skipped.
fn each_field<'a>(
    fragments: &'a HashMap<Name, Positioned<FragmentDefinition>>,
    set: &'a SelectionSet,
    each: &mut dyn FnMut(&'a Field),
) {
    fn walk<'a>(
        fragments: &'a HashMap<Name, Positioned<FragmentDefinition>>,
        set: &'a SelectionSet,
        spreading: &mut Vec<&'a Name>,
        each: &mut dyn FnMut(&'a Field),
    ) {
        for item in &set.items {
            match &item.node {
                Selection::Field(field) => each(&field.node),
                Selection::InlineFragment(inline) => {
                    walk(fragments, &inline.node.selection_set.node, spreading, each)
                }
                Selection::FragmentSpread(spread) => {
                    let name = &spread.node.fragment_name.node;
                    if let Some(fragment) = fragments.get(name)
                        && !spreading.contains(&name)
                    {
                        spreading.push(name);
                        walk(
                            fragments,
                            &fragment.node.selection_set.node,
                            spreading,
                            each,
                        );
                        spreading.pop();
                    }
                }
            }
        }
    }
    walk(fragments, set, &mut Vec::new(), each);
}
