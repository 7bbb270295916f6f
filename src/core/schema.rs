//! The schema, as the modules declare it: each module writes its types in SDL beside its
//! code (`schema.graphql`), including the fields it adds to other modules' types
//! (`extend type Product { offers: … }`), and registers how those fields resolve in the
//! engine. This module merges the fragments, in registration order, into async-graphql's
//! dynamic schema, which parses, validates and answers introspection; it never resolves a
//! field of ours (the engine does).
//!
//! Beside the shapes, the SDL declares what the engine and the gate need to know of a field
//! or type, as directives:
//! - `@cacheControl(maxAge: Int, scope: PRIVATE)` on a type or field: its cache hint, as
//!   Apollo's directive of that name, which the published schema does not show (responses'
//!   `Cache-Control` headers do);
//! - `@cost(weight: Int)` and `@listSize(slicingArguments: [String!], assumedSize: Int,
//!   sizedFields: [String!], requireOneSlicingArgument: Boolean)` on a field: what it costs,
//!   in the sense of the IBM GraphQL cost specification (see `cost::requested`). These two
//!   are published: the schema shows them, with their definitions (`COST_DIRECTIVES`), so
//!   client teams can compute an operation's cost before they send it.

use foldhash::HashMap;

use async_graphql::dynamic::{
    Directive, Enum, EnumItem, Field, FieldFuture, InputObject, InputValue, Interface,
    InterfaceField, Object, Scalar, SchemaBuilder, TypeRef, Union,
};
use async_graphql::parser::types::{
    BaseType, ConstDirective, FieldDefinition, InputValueDefinition, Type, TypeKind,
    TypeSystemDefinition,
};
use async_graphql::{CacheControl, Positioned, Value};

/// The definitions of the cost specification's directives, as the published schema declares
/// them (the schema's fields apply them; async-graphql's export prints only the directives
/// its executor knows, so these are added to it).
pub const COST_DIRECTIVES: &str = r#""""
What a field costs, in points, as the GraphQL cost specification defines it. In this schema
a field that declares no weight weighs 1, scalars included, and `__typename` is free.
"""
directive @cost(weight: Int!) on ARGUMENT_DEFINITION | ENUM | FIELD_DEFINITION | INPUT_FIELD_DEFINITION | OBJECT | SCALAR
"""
The size of the list a field returns, as the GraphQL cost specification defines it: what the
list's items cost is multiplied by the first slicing argument given, else that argument's
default, else the assumed size. On a connection, `sizedFields` names the lists it sizes.
"""
directive @listSize(assumedSize: Int, slicingArguments: [String!], sizedFields: [String!], requireOneSlicingArgument: Boolean = true) on FIELD_DEFINITION
"#;

/// One module's SDL.
#[derive(Debug, Clone, Copy)]
pub struct Fragment {
    /// The module, for error messages.
    pub module: &'static str,
    /// The module's types and fields, in SDL.
    pub sdl: &'static str,
}

/// What a field declares of its cost (`@cost`, `@listSize`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldCost {
    /// What the field costs itself; 1 unless it says otherwise.
    pub weight: Option<u64>,
    /// The arguments that give its list's size: a number, or a list whose length it is.
    pub slicing_arguments: Vec<String>,
    /// The list's size when no slicing argument is given.
    pub assumed_size: Option<u64>,
    /// The list fields of the field's type that the size applies to (a connection's `edges`
    /// and `nodes`); empty when the field is itself the list.
    pub sized_fields: Vec<String>,
    /// Whether a query must give exactly one slicing argument (the specification's default,
    /// `true`); `false` when they may all be left out and the assumed size applies.
    pub require_one_slicing_argument: Option<bool>,
}

impl FieldCost {
    /// Whether the field is a list whose size multiplies what is selected below it.
    pub fn sized(&self) -> bool {
        !self.slicing_arguments.is_empty() || self.assumed_size.is_some()
    }
}

/// The directives of the fragments that the published schema does not show. Looked up by
/// `&str` for every field of every request (`cost::requested`), so nothing is allocated.
#[derive(Debug, Default)]
pub struct Hints {
    /// Cache hints of types (`@cacheControl` on a type).
    types: HashMap<String, CacheControl>,
    /// What fields declare, by type and field (only those that declare something).
    fields: HashMap<String, HashMap<String, FieldHints>>,
    /// The weights of object types (`@cost` on a type): what each object of the type costs.
    type_weights: HashMap<String, u64>,
}

/// What one field declares.
#[derive(Debug, Default)]
pub struct FieldHints {
    /// Its cache hint (`@cacheControl`), when it declares one.
    pub cache: Option<CacheControl>,
    /// Its cost (`@cost`, `@listSize`), when it declares one.
    pub cost: Option<FieldCost>,
}

impl Hints {
    /// The cache hint declared on type `type_name`, if any.
    pub fn type_cache(&self, type_name: &str) -> Option<CacheControl> {
        self.types.get(type_name).copied()
    }

    /// What each object of type `type_name` weighs (`@cost` on the type); 0 unless declared.
    pub fn type_weight(&self, type_name: &str) -> u64 {
        self.type_weights.get(type_name).copied().unwrap_or(0)
    }

    /// What `type_name.field` declares, if anything.
    pub fn field(&self, type_name: &str, field: &str) -> Option<&FieldHints> {
        self.fields.get(type_name)?.get(field)
    }

    /// The cost declared for `type_name.field`, if any. (The gateway reads `field`; tests read these.)
    #[cfg(test)]
    pub fn cost(&self, type_name: &str, field: &str) -> Option<&FieldCost> {
        self.field(type_name, field)?.cost.as_ref()
    }

    /// The cache hint declared on `type_name.field`, if any. (The gateway reads `field`; tests read these.)
    #[cfg(test)]
    pub fn field_cache(&self, type_name: &str, field: &str) -> Option<CacheControl> {
        self.field(type_name, field)?.cache
    }

    /// Every declared cost, with its type and field. (The gateway reads `field`; tests read these.)
    #[cfg(test)]
    pub fn costs(&self) -> impl Iterator<Item = (&str, &str, &FieldCost)> {
        self.fields.iter().flat_map(|(type_name, fields)| {
            (fields.iter()).filter_map(move |(field, hints)| {
                Some((type_name.as_str(), field.as_str(), hints.cost.as_ref()?))
            })
        })
    }
}

/// A type as the fragments define it, extensions merged in.
struct Merged {
    definition: async_graphql::parser::types::TypeDefinition,
}

/// The dynamic schema of `fragments` (to be finished by the caller, with its extensions and
/// limits) and the hints they declare. Fails on SDL that does not parse, a type defined
/// twice, an extension of a type nobody defines, or a directive it does not know.
pub fn build(fragments: &[Fragment]) -> Result<(SchemaBuilder, Hints), String> {
    let mut types: Vec<Merged> = Vec::new();
    for fragment in fragments {
        let document = async_graphql::parser::parse_schema(fragment.sdl)
            .map_err(|e| format!("{}'s schema: {e}", fragment.module))?;
        for definition in document.definitions {
            let TypeSystemDefinition::Type(definition) = definition else {
                return Err(format!(
                    "{}'s schema: only types and type extensions are declared here",
                    fragment.module
                ));
            };
            merge(&mut types, definition.node, fragment.module)?;
        }
    }
    let defined = |name: &str| types.iter().any(|t| t.definition.name.node == name);
    if !defined("Query") {
        return Err("no module defines the Query type".to_owned());
    }
    check_list_sizes(&types)?;
    let mutation = defined("Mutation").then_some("Mutation");
    let mut builder = async_graphql::dynamic::Schema::build("Query", mutation, None);
    let mut hints = Hints::default();
    for merged in types {
        builder = builder.register(convert(merged.definition, &mut hints)?);
    }
    Ok((builder, hints))
}

/// Refuses a `@listSize` the published schema could not be read by: on a field that is not
/// a list it must name `sizedFields`, lists of the field's type; slicing arguments that may
/// all be left out need `requireOneSlicingArgument: false`.
fn check_list_sizes(types: &[Merged]) -> Result<(), String> {
    let fields_of = |name: &str| {
        let found = types.iter().find(|t| t.definition.name.node == name);
        match found.map(|t| &t.definition.kind) {
            Some(TypeKind::Object(object)) => Some(&object.fields),
            _ => None,
        }
    };
    for merged in types {
        let TypeKind::Object(object) = &merged.definition.kind else {
            continue;
        };
        for field in &object.fields {
            let field = &field.node;
            let at = format!("{}.{}", merged.definition.name.node, field.name.node);
            let cost = Directives::read(&field.directives, &at)?.cost;
            if !cost.sized() {
                continue;
            }
            let is_list = |ty: &Type| matches!(ty.base, BaseType::List(_));
            if is_list(&field.ty.node) != cost.sized_fields.is_empty() {
                return Err(format!(
                    "{at}: @listSize names sizedFields exactly when the field is not a list"
                ));
            }
            let child = field.ty.node.base.to_string();
            let child = child.trim_matches(|c| matches!(c, '[' | ']' | '!'));
            for sized in &cost.sized_fields {
                let list = fields_of(child)
                    .and_then(|fields| fields.iter().find(|f| f.node.name.node == *sized))
                    .is_some_and(|f| is_list(&f.node.ty.node));
                if !list {
                    return Err(format!("{at}: {child}.{sized} is not a list to size"));
                }
            }
            let optional = |name: &String| {
                field.arguments.iter().any(|a| {
                    a.node.name.node == *name
                        && a.node.ty.node.nullable
                        && a.node.default_value.is_none()
                })
            };
            let all_optional =
                !cost.slicing_arguments.is_empty() && cost.slicing_arguments.iter().all(optional);
            if all_optional && cost.require_one_slicing_argument != Some(false) {
                return Err(format!(
                    "{at}: its slicing arguments may be left out, so it needs \
                     requireOneSlicingArgument: false"
                ));
            }
        }
    }
    Ok(())
}

/// Adds `definition` to `types`: a new type, or an extension's fields to a known one.
fn merge(
    types: &mut Vec<Merged>,
    definition: async_graphql::parser::types::TypeDefinition,
    module: &str,
) -> Result<(), String> {
    let name = definition.name.node.clone();
    let Some(known) = types.iter_mut().find(|t| t.definition.name.node == name) else {
        if definition.extend {
            return Err(format!(
                "{module} extends {name}, which no earlier module defines"
            ));
        }
        types.push(Merged { definition });
        return Ok(());
    };
    if !definition.extend {
        return Err(format!("{module} defines {name}, which is defined already"));
    }
    let known = &mut known.definition;
    known.directives.extend(definition.directives);
    match (&mut known.kind, definition.kind) {
        (TypeKind::Object(known), TypeKind::Object(added)) => {
            known.implements.extend(added.implements);
            known.fields.extend(added.fields);
        }
        (TypeKind::Interface(known), TypeKind::Interface(added)) => {
            known.fields.extend(added.fields);
        }
        (TypeKind::Enum(known), TypeKind::Enum(added)) => known.values.extend(added.values),
        (TypeKind::Union(known), TypeKind::Union(added)) => known.members.extend(added.members),
        (TypeKind::InputObject(known), TypeKind::InputObject(added)) => {
            known.fields.extend(added.fields);
        }
        _ => return Err(format!("{module} extends {name} as another kind of type")),
    }
    Ok(())
}

/// A field's resolver in the dynamic schema: never called, since the engine executes every
/// field and this schema executes introspection only.
fn engine_field(_: async_graphql::dynamic::ResolverContext<'_>) -> FieldFuture<'_> {
    FieldFuture::new(async {
        Err::<Option<async_graphql::Value>, _>(async_graphql::Error::new(
            "this field is executed by the engine",
        ))
    })
}

fn convert(
    definition: async_graphql::parser::types::TypeDefinition,
    hints: &mut Hints,
) -> Result<async_graphql::dynamic::Type, String> {
    let name = definition.name.node.to_string();
    let description = definition.description.map(|d| d.node);
    let directives = Directives::read(&definition.directives, &name)?;
    if let Some(cache) = directives.cache {
        hints.types.insert(name.clone(), cache);
    }
    let converted: async_graphql::dynamic::Type = match definition.kind {
        TypeKind::Scalar => {
            let mut scalar = Scalar::new(&name);
            if let Some(url) = directives.specified_by {
                scalar = scalar.specified_by_url(url);
            }
            with_description(scalar, description, Scalar::description).into()
        }
        TypeKind::Object(object) => {
            let mut converted = Object::new(&name);
            if let Some(weight) = directives.cost.weight {
                hints.type_weights.insert(name.clone(), weight);
                converted = converted
                    .directive(Directive::new("cost").argument("weight", Value::from(weight)));
            }
            for interface in object.implements {
                converted = converted.implement(interface.node.to_string());
            }
            for field in object.fields {
                converted = converted.field(object_field(&name, field.node, hints)?);
            }
            with_description(converted, description, Object::description).into()
        }
        TypeKind::Interface(interface) => {
            let mut converted = Interface::new(&name);
            for field in interface.fields {
                let field = field.node;
                let at = format!("{name}.{}", field.name.node);
                let mut converted_field =
                    InterfaceField::new(field.name.node.to_string(), type_ref(&field.ty.node));
                for argument in field.arguments {
                    converted_field = converted_field.argument(input_value(argument.node, &at)?);
                }
                let field_directives = Directives::read(&field.directives, &at)?;
                if let Some(reason) = field_directives.deprecated {
                    converted_field = converted_field.deprecation(reason.as_deref());
                }
                converted = converted.field(with_description(
                    converted_field,
                    field.description.map(|d| d.node),
                    InterfaceField::description,
                ));
            }
            with_description(converted, description, Interface::description).into()
        }
        TypeKind::Union(union) => {
            let mut converted = Union::new(&name);
            for member in union.members {
                converted = converted.possible_type(member.node.to_string());
            }
            with_description(converted, description, Union::description).into()
        }
        TypeKind::Enum(values) => {
            let mut converted = Enum::new(&name);
            for value in values.values {
                let value = value.node;
                let at = format!("{name}.{}", value.value.node);
                let mut item = EnumItem::new(value.value.node.to_string());
                if let Some(reason) = Directives::read(&value.directives, &at)?.deprecated {
                    item = item.deprecation(reason.as_deref());
                }
                converted = converted.item(with_description(
                    item,
                    value.description.map(|d| d.node),
                    EnumItem::description,
                ));
            }
            with_description(converted, description, Enum::description).into()
        }
        TypeKind::InputObject(input) => {
            let mut converted = InputObject::new(&name);
            for field in input.fields {
                converted = converted.field(input_value(field.node, &name)?);
            }
            if directives.one_of {
                converted = converted.oneof();
            }
            with_description(converted, description, InputObject::description).into()
        }
    };
    Ok(converted)
}

fn object_field(
    type_name: &str,
    field: FieldDefinition,
    hints: &mut Hints,
) -> Result<Field, String> {
    let field_name = field.name.node.to_string();
    let at = format!("{type_name}.{field_name}");
    let directives = Directives::read(&field.directives, &at)?;
    for slicing in &directives.cost.slicing_arguments {
        if !field.arguments.iter().any(|a| a.node.name.node == *slicing) {
            return Err(format!(
                "{at} is sized by {slicing}, which it does not take"
            ));
        }
    }
    let publish = published(&directives.cost);
    let cost = (directives.cost != FieldCost::default()).then_some(directives.cost);
    if directives.cache.is_some() || cost.is_some() {
        let declared = FieldHints {
            cache: directives.cache,
            cost,
        };
        (hints.fields.entry(type_name.to_owned()).or_default())
            .insert(field_name.clone(), declared);
    }
    let mut converted = Field::new(field_name, type_ref(&field.ty.node), engine_field);
    for directive in publish {
        converted = converted.directive(directive);
    }
    for argument in field.arguments {
        converted = converted.argument(input_value(argument.node, &at)?);
    }
    if let Some(reason) = directives.deprecated {
        converted = converted.deprecation(reason.as_deref());
    }
    Ok(with_description(
        converted,
        field.description.map(|d| d.node),
        Field::description,
    ))
}

/// What a field declares of its cost, as the published schema shows it: the cost
/// specification's `@cost` and `@listSize`, so a client can compute what an operation costs
/// before it sends it.
fn published(cost: &FieldCost) -> Vec<Directive> {
    let names =
        |names: &[String]| Value::List(names.iter().map(|n| Value::from(n.as_str())).collect());
    let mut directives = Vec::new();
    if let Some(weight) = cost.weight {
        directives.push(Directive::new("cost").argument("weight", Value::from(weight)));
    }
    if cost.sized() {
        let mut list_size = Directive::new("listSize");
        if let Some(size) = cost.assumed_size {
            list_size = list_size.argument("assumedSize", Value::from(size));
        }
        if !cost.slicing_arguments.is_empty() {
            list_size = list_size.argument("slicingArguments", names(&cost.slicing_arguments));
        }
        if !cost.sized_fields.is_empty() {
            list_size = list_size.argument("sizedFields", names(&cost.sized_fields));
        }
        if let Some(required) = cost.require_one_slicing_argument {
            list_size = list_size.argument("requireOneSlicingArgument", Value::from(required));
        }
        directives.push(list_size);
    }
    directives
}

fn input_value(value: InputValueDefinition, at: &str) -> Result<InputValue, String> {
    let at = format!("{at}({})", value.name.node);
    let directives = Directives::read(&value.directives, &at)?;
    if directives.deprecated.is_some() {
        return Err(format!("{at}: deprecated arguments are not supported"));
    }
    let mut converted = InputValue::new(value.name.node.to_string(), type_ref(&value.ty.node));
    if let Some(default) = value.default_value {
        converted = converted.default_value(default.node);
    }
    Ok(with_description(
        converted,
        value.description.map(|d| d.node),
        InputValue::description,
    ))
}

fn with_description<T>(item: T, description: Option<String>, describe: fn(T, String) -> T) -> T {
    match description {
        Some(text) => describe(item, text),
        None => item,
    }
}

/// A type reference as the dynamic schema takes it.
fn type_ref(ty: &Type) -> TypeRef {
    let inner = match &ty.base {
        BaseType::Named(name) => TypeRef::Named(name.to_string().into()),
        BaseType::List(item) => TypeRef::List(Box::new(type_ref(item))),
    };
    if ty.nullable {
        inner
    } else {
        TypeRef::NonNull(Box::new(inner))
    }
}

/// The directives of one definition, read.
#[derive(Default)]
struct Directives {
    cache: Option<CacheControl>,
    cost: FieldCost,
    deprecated: Option<Option<String>>,
    specified_by: Option<String>,
    one_of: bool,
}

impl Directives {
    fn read(directives: &[Positioned<ConstDirective>], at: &str) -> Result<Self, String> {
        let mut read = Self::default();
        for directive in directives {
            let directive = &directive.node;
            let argument = |name: &str| directive.get_argument(name).map(|v| &v.node);
            match directive.name.node.as_str() {
                "cacheControl" => {
                    let public = match argument("scope") {
                        None => true,
                        Some(Value::Enum(scope)) if scope == "PUBLIC" => true,
                        Some(Value::Enum(scope)) if scope == "PRIVATE" => false,
                        Some(other) => return Err(format!("{at}: scope {other} is not a scope")),
                    };
                    let max_age = match argument("maxAge") {
                        None => 0,
                        Some(value) => int(value, at)? as i32,
                    };
                    read.cache = Some(CacheControl { public, max_age });
                }
                "cost" => {
                    let weight = argument("weight").ok_or(format!("{at}: @cost needs a weight"))?;
                    read.cost.weight = Some(int(weight, at)?);
                }
                "listSize" => {
                    if let Some(size) = argument("assumedSize") {
                        read.cost.assumed_size = Some(int(size, at)?);
                    }
                    read.cost.slicing_arguments = names(argument("slicingArguments"), at)?;
                    read.cost.sized_fields = names(argument("sizedFields"), at)?;
                    read.cost.require_one_slicing_argument =
                        match argument("requireOneSlicingArgument") {
                            None => None,
                            Some(Value::Boolean(required)) => Some(*required),
                            Some(other) => {
                                return Err(format!("{at}: {other} is not a Boolean"));
                            }
                        };
                }
                "deprecated" => {
                    read.deprecated = Some(match argument("reason") {
                        Some(Value::String(reason)) => Some(reason.clone()),
                        _ => None,
                    });
                }
                "specifiedBy" => match argument("url") {
                    Some(Value::String(url)) => read.specified_by = Some(url.clone()),
                    _ => return Err(format!("{at}: @specifiedBy needs a url")),
                },
                "oneOf" => read.one_of = true,
                other => return Err(format!("{at}: unknown directive @{other}")),
            }
        }
        Ok(read)
    }
}

/// A list of names (`slicingArguments`, `sizedFields`); none when the argument is absent.
fn names(value: Option<&Value>, at: &str) -> Result<Vec<String>, String> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    let Value::List(items) = value else {
        return Err(format!("{at}: {value} is not a list of names"));
    };
    let name = |item: &Value| match item {
        Value::String(name) => Ok(name.clone()),
        other => Err(format!("{at}: {other} is not a name")),
    };
    items.iter().map(name).collect()
}

fn int(value: &Value, at: &str) -> Result<u64, String> {
    match value {
        Value::Number(n) => n
            .as_u64()
            .filter(|n| *n <= i32::MAX as u64)
            .ok_or(format!("{at}: {n} is not a size")),
        other => Err(format!("{at}: {other} is not a number")),
    }
}

#[cfg(test)]
mod tests;
