//! Random valid query documents over `schema.graphql`, for the conformance test of the
//! engine (`tests/api/conformance.rs`). A deterministic walk from `Query` (a fixed seed gives the same documents on
//! every run) picks fields, aliases (the same field twice with other arguments), `__typename`,
//! named and inline fragments (with and without a type condition, on `Node`), nested spreads,
//! `@include`/`@skip` with literals and variables, and arguments, literal or through
//! variables: ids and slugs of the fixture, page sizes mostly in range and sometimes not,
//! cursors of real pages and broken ones. Documents are valid by construction: every alias is
//! new, and a field without an alias takes the same arguments wherever it occurs in a
//! document, so fields sharing a response key always merge.

use std::collections::HashMap;

use async_graphql::parser::types::{BaseType, Selection, SelectionSet, ServiceDocument};
use async_graphql::parser::types::{Type, TypeKind, TypeSystemDefinition};
use base64::Engine as _;
use serde_json::{Map, Value, json};

/// About how many objects a document may ask for under one root field: the product of the
/// page sizes along a path. Keeps answers small enough to run thousands in a debug build.
const OBJECTS: usize = 40;
/// Fields never chosen: `offers` reaches the partner API, which these tests do not run.
const SKIPPED: &[&str] = &["offers"];
/// A cursor no list made.
const BAD_CURSOR: &str = "bm90IGEgY3Vyc29y";

/// xorshift64*: small, fast and the same everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn pick<'t, T>(&mut self, items: &'t [T]) -> &'t T {
        &items[self.below(items.len())]
    }
}

/// What the fixture holds, read by the test with SQL (and cursors of real pages).
#[derive(Debug, Default)]
pub(crate) struct Fixture {
    /// Database ids by GraphQL type name (`Product`, `Brand`, … every `Node` type).
    pub ids: HashMap<String, Vec<i64>>,
    /// Slugs by type name (`Brand`, `Shop`, `Category`).
    pub slugs: HashMap<String, Vec<String>>,
    pub usernames: Vec<String>,
    pub tags: Vec<String>,
    pub colors: Vec<String>,
    /// Lowercase words of product and brand names, for search queries and prefixes.
    pub words: Vec<String>,
    /// Cursors of real pages, by the field that paged (`brands`, `collages`, …).
    pub cursors: HashMap<String, Vec<String>>,
}

/// A global id as the API makes them: URL-safe base64 of `Type:id`, unpadded.
pub(crate) fn global_id(kind: &str, id: i64) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{kind}:{id}"))
}

struct Field {
    name: String,
    args: Vec<Arg>,
    ty: Type,
}

struct Arg {
    name: String,
    ty: Type,
    /// Nullable or with a default: may be left out.
    optional: bool,
}

#[derive(Default)]
struct TypeDef {
    fields: Vec<Field>,
    interface: bool,
    implements_node: bool,
    values: Vec<String>,
}

/// The output types of the published schema, as far as the generator needs them.
pub(crate) struct Schema {
    types: HashMap<String, TypeDef>,
    node_types: Vec<String>,
}

impl Schema {
    pub(crate) fn new(document: &ServiceDocument) -> Self {
        let mut types = HashMap::new();
        for definition in &document.definitions {
            let TypeSystemDefinition::Type(def) = definition else {
                continue;
            };
            let mut out = TypeDef::default();
            let fields = match &def.node.kind {
                TypeKind::Object(o) => {
                    out.implements_node = o.implements.iter().any(|i| i.node == "Node");
                    o.fields.as_slice()
                }
                TypeKind::Interface(i) => {
                    out.interface = true;
                    i.fields.as_slice()
                }
                TypeKind::Enum(e) => {
                    out.values = (e.values.iter())
                        .map(|v| v.node.value.node.to_string())
                        .collect();
                    &[]
                }
                _ => &[],
            };
            out.fields = (fields.iter().map(|f| &f.node))
                .filter(|f| !SKIPPED.contains(&f.name.node.as_str()))
                .map(|f| Field {
                    name: f.name.node.to_string(),
                    ty: f.ty.node.clone(),
                    args: (f.arguments.iter().map(|a| &a.node))
                        .map(|a| Arg {
                            name: a.name.node.to_string(),
                            ty: a.ty.node.clone(),
                            optional: a.ty.node.nullable || a.default_value.is_some(),
                        })
                        .collect(),
                })
                .collect();
            types.insert(def.node.name.node.to_string(), out);
        }
        let mut node_types: Vec<String> = (types.iter())
            .filter(|(_, t)| t.implements_node)
            .map(|(name, _)| name.clone())
            .collect();
        node_types.sort();
        Self { types, node_types }
    }

    fn composite(&self, name: &str) -> bool {
        self.types.get(name).is_some_and(|t| !t.fields.is_empty())
    }

    fn is_enum(&self, name: &str) -> bool {
        self.types.get(name).is_some_and(|t| !t.values.is_empty())
    }
}

fn named(ty: &Type) -> &str {
    match &ty.base {
        BaseType::Named(name) => name.as_str(),
        BaseType::List(inner) => named(inner),
    }
}

/// A JSON value written as a GraphQL literal; strings are enum values where `enum_` says so.
fn literal(value: &Value, enum_: bool) -> String {
    match value {
        Value::String(s) if enum_ => s.clone(),
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(|v| literal(v, enum_)).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Object(fields) => {
            let fields: Vec<String> = (fields.iter())
                .map(|(k, v)| format!("{k}: {}", literal(v, false)))
                .collect();
            format!("{{{}}}", fields.join(", "))
        }
        other => other.to_string(),
    }
}

/// Where a selection set is being made: its type, how many more selection sets may open
/// below it, how many instances of the type the answer may hold, and the page size when the
/// type is a connection.
#[derive(Clone, Copy)]
struct At<'t> {
    ty: &'t str,
    depth: usize,
    objects: usize,
    page: usize,
}

impl<'t> At<'t> {
    fn new(ty: &'t str, depth: usize, objects: usize, page: usize) -> Self {
        Self {
            ty,
            depth,
            objects,
            page,
        }
    }

    /// The same place, seen as `ty` (inside a fragment).
    fn on<'u>(&self, ty: &'u str) -> At<'u> {
        At::new(ty, self.depth, self.objects, self.page)
    }
}

/// A named fragment of the document being built, and the room it was made for (depth,
/// objects, page): it fits where there is as much.
struct Fragment {
    name: String,
    on: String,
    text: String,
    room: (usize, usize, usize),
}

/// A generated request.
pub(crate) struct Generated {
    pub query: String,
    pub variables: Value,
}

/// The document being built.
#[derive(Default)]
struct Doc {
    declarations: Vec<String>,
    values: Map<String, Value>,
    fragments: Vec<Fragment>,
    /// Arguments (and list size) of each field without an alias, by name and argument names.
    canonical: HashMap<(String, String), (String, usize)>,
    names: usize,
}

pub(crate) struct Generator<'a> {
    schema: &'a Schema,
    fixture: &'a Fixture,
    rng: Rng,
    doc: Doc,
    /// Also `@defer` (a selection wrapped in a deferred inline fragment, one in seven) and
    /// `@stream` (on one list of objects in five).
    incremental: bool,
}

impl<'a> Generator<'a> {
    pub(crate) fn new(schema: &'a Schema, fixture: &'a Fixture, seed: u64) -> Self {
        let (rng, doc) = (Rng(seed.max(1)), Doc::default());
        Self {
            schema,
            fixture,
            rng,
            doc,
            incremental: false,
        }
    }

    /// The same generator, with `@defer` and `@stream` in its documents.
    pub(crate) fn incremental(self) -> Self {
        Self {
            incremental: true,
            ..self
        }
    }

    /// `item`, deferred when the generator makes incremental documents and the dice say so.
    fn maybe_deferred(&mut self, item: String) -> String {
        if !self.incremental || !self.rng.chance(14) {
            return item;
        }
        match self.rng.chance(50) {
            true => format!("... @defer(label: \"{}\") {{ {item} }}", self.fresh("d")),
            false => format!("... @defer {{ {item} }}"),
        }
    }

    fn fresh(&mut self, prefix: &str) -> String {
        self.doc.names += 1;
        format!("{prefix}{}", self.doc.names)
    }

    /// A new variable `$name: ty` (`= default`), given `value` if any; returns `$name`.
    fn variable(&mut self, ty: &str, default: Option<String>, value: Option<Value>) -> String {
        let name = self.fresh("v");
        let default = default.map(|d| format!(" = {d}")).unwrap_or_default();
        self.doc
            .declarations
            .push(format!("${name}: {ty}{default}"));
        if let Some(value) = value {
            self.doc.values.insert(name.clone(), value);
        }
        format!("${name}")
    }

    /// A new random document over `Query`.
    pub(crate) fn document(&mut self) -> Generated {
        self.doc = Doc::default();
        let depth = 3 + self.rng.below(3);
        let body = self.selection(At::new("Query", depth, 1, 0));
        let mut query = match (self.doc.declarations.is_empty(), self.rng.chance(50)) {
            (true, true) => body,
            (true, false) => format!("query {} {body}", self.fresh("Q")),
            (false, _) => {
                let name = self.fresh("Q");
                format!("query {name}({}) {body}", self.doc.declarations.join(", "))
            }
        };
        for Fragment { name, on, text, .. } in &self.doc.fragments {
            query.push_str(&format!("\nfragment {name} on {on} {text}"));
        }
        let variables = Value::Object(std::mem::take(&mut self.doc.values));
        Generated { query, variables }
    }

    /// A selection set. Its first field is mostly unconditional, so objects left with no
    /// field (`{}`) stay rare.
    fn selection(&mut self, at: At<'_>) -> String {
        let schema = self.schema;
        let def = &schema.types[at.ty];
        let first = self.rng.pick(&def.fields);
        let conditional = self.rng.chance(10);
        let first = self.field(at, first, conditional);
        let mut items = vec![first.unwrap_or_else(|| "__typename".to_owned())];
        for _ in 0..self.rng.below(3) {
            let roll = self.rng.below(100);
            let item = match roll {
                _ if def.interface && roll < 60 => self.inline_fragment(at),
                0..8 => Some(self.typename()),
                8..18 => self.inline_fragment(at),
                18..26 => self.spread(at),
                _ => {
                    let field = self.rng.pick(&def.fields);
                    self.field(at, field, true)
                }
            };
            items.extend(item);
        }
        let items: Vec<String> = items.into_iter().map(|i| self.maybe_deferred(i)).collect();
        format!("{{ {} }}", items.join(" "))
    }

    fn typename(&mut self) -> String {
        let aliased = self.rng.chance(30);
        let alias = aliased.then(|| format!("{}: ", self.fresh("t")));
        let alias = alias.unwrap_or_default();
        // Literal conditions only: async-graphql's validation does not visit `__typename`,
        // so a variable used there alone is refused as unused.
        format!("{alias}__typename{}", self.directives(true))
    }

    fn field(&mut self, at: At<'_>, field: &'a Field, directives: bool) -> Option<String> {
        let target = named(&field.ty);
        let composite = self.schema.composite(target);
        if composite && at.depth == 0 {
            return None;
        }
        let list = matches!(field.ty.base, BaseType::List(_));
        let sized = field
            .args
            .iter()
            .any(|a| a.name == "first" || a.name == "ids");
        let connection = target.ends_with("Connection");
        let size = match field.name.as_str() {
            _ if !list && !connection => 1,
            "edges" | "nodes" if !sized => at.page,
            "categories" => 3,
            "path" => 4,
            "items" => 12, // a collage has at most 12
            "similar" | "suggest" => 8,
            _ if connection => 20,
            _ => 10,
        };
        if composite && list && !sized && at.objects * size > OBJECTS {
            return None;
        }
        // By name and argument names, not by parent type: async-graphql's validation sees
        // fields of one name in untyped inline fragments as one, whatever type they are on.
        let arg_names = field.args.iter().map(|a| a.name.as_str());
        let key = (field.name.clone(), arg_names.collect::<Vec<_>>().join(","));
        let known = self.doc.canonical.get(&key);
        let reusable = known.filter(|(_, size)| at.objects * size.max(&1) <= OBJECTS);
        let aliased = self.rng.chance(20) || (known.is_some() && reusable.is_none());
        let reusable = reusable.cloned();
        let (args, size) = match reusable {
            Some(known) if !aliased => known,
            _ => {
                let made = self.arguments(field, at.objects, size);
                if !aliased {
                    self.doc.canonical.insert(key, made.clone());
                }
                made
            }
        };
        let alias = aliased.then(|| format!("{}: ", self.fresh("a")));
        let alias = alias.unwrap_or_default();
        let mut directives = directives.then(|| self.directives(false));
        if self.incremental && composite && list && !connection && self.rng.chance(20) {
            let count = self.rng.below(4);
            let stream = format!(" @stream(initialCount: {count})");
            directives = Some(directives.unwrap_or_default() + &stream);
        }
        let directives = directives.unwrap_or_default();
        let (depth, objects) = (at.depth.saturating_sub(1), at.objects);
        let sub = match composite {
            false => String::new(),
            true if connection => self.selection(At::new(target, depth, objects, size)),
            true if list => self.selection(At::new(target, depth, objects * size.max(1), 0)),
            true => self.selection(At::new(target, depth, objects, 0)),
        };
        Some(format!("{alias}{}{args}{directives} {sub}", field.name))
    }

    /// The arguments of a field, and the size of the list or page it asks for (`size` when
    /// they leave it to the default).
    fn arguments(&mut self, field: &Field, objects: usize, mut size: usize) -> (String, usize) {
        let cap = OBJECTS / objects.max(1);
        let by_id = self.rng.below(100);
        let mut parts = Vec::new();
        for arg in &field.args {
            let value = match (field.name.as_str(), arg.name.as_str()) {
                // By id, by database id, both (95..97) or neither (97..): the last two fail.
                ("product", "id") if (45..95).contains(&by_id) || by_id >= 97 => None,
                ("product", "databaseId") if !(45..97).contains(&by_id) => None,
                _ => self.value(&field.name, &arg.name, &arg.ty, arg.optional, cap),
            };
            let Some(value) = value else {
                if arg.ty.nullable && self.rng.chance(10) {
                    // A variable declared and never given: the argument is absent.
                    let variable = self.variable(&arg.ty.to_string(), None, None);
                    parts.push(format!("{}: {variable}", arg.name));
                }
                continue;
            };
            match (&value, arg.name.as_str()) {
                // Out of range (only -1, 60 and 101 are made) is an error: no items.
                (Value::Number(n), "first") => {
                    size = n.as_u64().filter(|n| *n <= 50).unwrap_or(0) as usize
                }
                (Value::Array(ids), "ids") => size = ids.len(),
                _ => {}
            }
            let text = self.pass(arg, value);
            parts.push(format!("{}: {text}", arg.name));
        }
        if field.name == "items" {
            size = size.min(12);
        }
        match parts.is_empty() {
            true => (String::new(), size),
            false => (format!("({})", parts.join(", ")), size),
        }
    }

    /// A value for argument `arg` of `field`, or `None` to leave it out.
    fn value(
        &mut self,
        field: &str,
        arg: &str,
        ty: &Type,
        optional: bool,
        cap: usize,
    ) -> Option<Value> {
        let (fixture, schema, rng) = (self.fixture, self.schema, &mut self.rng);
        let id_of = |rng: &mut Rng, kind: &str| *rng.pick(&fixture.ids[kind]);
        let any_id = |rng: &mut Rng| {
            let kind = rng.pick(&schema.node_types);
            match rng.below(20) {
                0 => "bad id".to_owned(),
                1 => global_id(kind, 999_999),
                _ => global_id(kind, id_of(rng, kind)),
            }
        };
        let needed = (field == "product") || (arg == "first" && cap < 20);
        if optional && !needed && rng.chance(25) {
            return None;
        }
        let word = |rng: &mut Rng| rng.pick(&fixture.words).clone();
        Some(match (field, arg) {
            (_, "first") => {
                let max = match field {
                    "items" => 50,
                    "similar" | "suggest" => 10,
                    _ => 30,
                };
                match rng.below(100) {
                    0 => json!(-1),
                    1 => json!(if field == "items" { 60 } else { 101 }),
                    _ => json!(rng.below(max.min(cap) + 1)),
                }
            }
            (_, "after") if rng.chance(65) => return None,
            (_, "after") if rng.chance(10) => json!(BAD_CURSOR),
            (_, "after") => {
                let pools: Vec<&Vec<String>> = fixture.cursors.values().collect();
                let pool = match fixture.cursors.get(field) {
                    Some(pool) if rng.chance(85) => pool,
                    _ => rng.pick(&pools),
                };
                json!(rng.pick(pool))
            }
            ("product", "databaseId") if rng.chance(5) => json!(999_999),
            ("product", "databaseId") => json!(id_of(rng, "Product")),
            ("product" | "collage", "id") if rng.chance(6) => json!(any_id(rng)),
            ("product", "id") => json!(global_id("Product", id_of(rng, "Product"))),
            ("collage", "id") => json!(global_id("Collage", id_of(rng, "Collage"))),
            ("node", "id") => json!(any_id(rng)),
            ("nodes", "ids") => (0..rng.below(cap.min(6) + 1))
                .map(|_| any_id(rng))
                .collect(),
            (_, "slug") if rng.chance(5) => json!("no-such-slug"),
            (_, "slug") => {
                let kind = format!("{}{}", field[..1].to_uppercase(), &field[1..]);
                json!(rng.pick(&fixture.slugs[&kind]))
            }
            (_, "username") if rng.chance(5) => json!("nobody-by-this-name"),
            (_, "username") => json!(rng.pick(&fixture.usernames)),
            (_, "tag") if rng.chance(50) => return None,
            (_, "tag") => json!(rng.pick(&fixture.tags)),
            (_, "query") => json!(match rng.below(10) {
                0 => String::new(),
                1 => format!("{} {}", word(rng), word(rng)),
                2 => word(rng).chars().rev().collect(), // a typo, mostly
                _ => word(rng),
            }),
            (_, "prefix") => json!(word(rng).chars().take(1 + rng.below(4)).collect::<String>()),
            (_, "filter") => self.filter(),
            // Arguments the generator knows nothing about: a value of the type.
            _ => match named(ty) {
                name if schema.is_enum(name) => json!(rng.pick(&schema.types[name].values)),
                "Int" => json!(rng.below(10)),
                "Boolean" => json!(rng.chance(50)),
                _ => json!(word(rng)),
            },
        })
    }

    fn filter(&mut self) -> Value {
        let (fixture, rng) = (self.fixture, &mut self.rng);
        let mut filter = Map::new();
        for (name, kind) in [
            ("brandIds", "Brand"),
            ("categoryIds", "Category"),
            ("shopIds", "Shop"),
        ] {
            if rng.chance(30) {
                let ids =
                    (0..1 + rng.below(3)).map(|_| global_id(kind, *rng.pick(&fixture.ids[kind])));
                filter.insert(name.to_owned(), json!(ids.collect::<Vec<_>>()));
            }
        }
        if rng.chance(30) {
            filter.insert("colors".to_owned(), json!([rng.pick(&fixture.colors)]));
        }
        if rng.chance(30) {
            let (a, b) = (rng.below(20_000), rng.below(20_000));
            let mut range = Map::new();
            if rng.chance(70) {
                range.insert("min".to_owned(), json!(a.min(b)));
            }
            if rng.chance(70) {
                let max = if rng.chance(5) { -5 } else { a.max(b) as i64 };
                range.insert("max".to_owned(), json!(max));
            }
            filter.insert("price".to_owned(), Value::Object(range));
        }
        if rng.chance(20) {
            filter.insert("onSale".to_owned(), json!(rng.chance(50)));
        }
        Value::Object(filter)
    }

    /// The value as a literal, or through a new variable (sometimes its default).
    fn pass(&mut self, arg: &Arg, value: Value) -> String {
        let text = literal(&value, self.schema.is_enum(named(&arg.ty)));
        match (self.rng.below(100), arg.ty.nullable) {
            (0..25, _) => self.variable(&arg.ty.to_string(), None, Some(value)),
            (25..33, true) => self.variable(&arg.ty.to_string(), Some(text), None),
            _ => text,
        }
    }

    fn directives(&mut self, literal_only: bool) -> String {
        let roll = self.rng.below(100);
        let mut out = String::new();
        for (directive, wanted) in [("include", roll < 8), ("skip", (6..12).contains(&roll))] {
            if !wanted {
                continue;
            }
            let value = self.rng.chance(50);
            let condition = match self.rng.below(100) {
                _ if literal_only => value.to_string(),
                0..50 => value.to_string(),
                // A default the sent value overrides, and a default alone.
                50..60 => self.variable("Boolean!", Some((!value).to_string()), Some(json!(value))),
                60..65 => self.variable("Boolean!", Some(value.to_string()), None),
                _ => self.variable("Boolean!", None, Some(json!(value))),
            };
            out.push_str(&format!(" @{directive}(if: {condition})"));
        }
        out
    }

    /// A type condition for a fragment in a selection on `ty`.
    fn condition(&mut self, ty: &str) -> String {
        let roll = self.rng.below(100);
        match ty {
            "Node" if roll < 70 => self.rng.pick(&self.schema.node_types).clone(),
            _ if roll >= 80 && self.schema.types[ty].implements_node => "Node".to_owned(),
            _ => ty.to_owned(),
        }
    }

    fn inline_fragment(&mut self, at: At<'_>) -> Option<String> {
        let on = self.condition(at.ty);
        let condition = match on == at.ty && self.rng.chance(50) {
            true => String::new(),
            false => format!(" on {on}"),
        };
        let directives = self.directives(false);
        let body = self.selection(at.on(&on));
        Some(format!("...{condition}{directives} {body}"))
    }

    fn spread(&mut self, at: At<'_>) -> Option<String> {
        let types = &self.schema.types;
        let fits = |f: &&Fragment| {
            let applies = f.on == at.ty
                || (f.on == "Node" && types[at.ty].implements_node)
                || (at.ty == "Node" && types[&f.on].implements_node);
            let (depth, objects, page) = f.room;
            applies && depth <= at.depth && at.objects <= objects && at.page <= page
        };
        let fitting = self.doc.fragments.iter().filter(fits);
        let known: Vec<String> = fitting.map(|f| f.name.clone()).collect();
        let name = if !known.is_empty() && self.rng.chance(50) {
            self.rng.pick(&known).clone()
        } else {
            let on = self.condition(at.ty);
            let text = self.selection(at.on(&on));
            let name = self.fresh("F");
            let room = (at.depth, at.objects, at.page);
            let fragment = Fragment {
                name: name.clone(),
                on,
                text,
                room,
            };
            self.doc.fragments.push(fragment);
            name
        };
        Some(format!("...{name}{}", self.directives(false)))
    }

    /// Values for the variables of a fixed document, chosen as for the arguments they fill.
    pub(crate) fn variables_for(&mut self, document: &str) -> Value {
        let parsed = async_graphql::parser::parse_query(document).expect("the document parses");
        let mut usages = HashMap::new();
        for (_, operation) in parsed.operations.iter() {
            usages_in(&operation.node.selection_set.node, &mut usages);
        }
        for fragment in parsed.fragments.values() {
            usages_in(&fragment.node.selection_set.node, &mut usages);
        }
        let mut values = Map::new();
        for (_, operation) in parsed.operations.iter() {
            for variable in operation.node.variable_definitions.iter().map(|v| &v.node) {
                let name = variable.name.node.to_string();
                let (field, arg) = usages.get(&name).cloned().unwrap_or_default();
                let ty = &variable.var_type.node;
                let optional = ty.nullable || variable.default_value.is_some();
                if let Some(value) = self.value(&field, &arg, ty, optional, 30) {
                    values.insert(name, value);
                }
            }
        }
        Value::Object(values)
    }
}

/// Where each variable is used: the field and argument it fills.
fn usages_in(set: &SelectionSet, usages: &mut HashMap<String, (String, String)>) {
    for selection in &set.items {
        match &selection.node {
            Selection::Field(field) => {
                for (arg, value) in &field.node.arguments {
                    if let Some(variable) = value.node.to_string().strip_prefix('$') {
                        let usage = (field.node.name.node.to_string(), arg.node.to_string());
                        usages.insert(variable.to_owned(), usage);
                    }
                }
                usages_in(&field.node.selection_set.node, usages);
            }
            Selection::InlineFragment(inline) => usages_in(&inline.node.selection_set.node, usages),
            Selection::FragmentSpread(_) => {}
        }
    }
}
