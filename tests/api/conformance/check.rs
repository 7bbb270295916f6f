//! The checks of `conformance`: an answer against its document and the schema, knowing no
//! expected answer (see the module above for the rules).

use std::collections::HashMap;
use std::fmt;

use async_graphql::parser::types::{
    BaseType, ExecutableDocument, Selection, SelectionSet, ServiceDocument, Type, TypeKind,
    TypeSystemDefinition,
};
use axum::http::StatusCode;
use base64::Engine as _;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Value, json};

/// Codes an answer may carry; anything else (`INTERNAL` above all) fails the check.
const CODES: &[&str] = &[
    "BAD_USER_INPUT",
    "NOT_FOUND",
    "UNAUTHENTICATED",
    "FORBIDDEN",
];

/// JSON with its objects' keys in the order they were written.
#[derive(Debug, Clone, PartialEq)]
enum Json {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
    List(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Read;
        impl<'de> Visitor<'de> for Read {
            type Value = Json;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("JSON")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Json, E> {
                Ok(Json::Null)
            }
            fn visit_bool<E: de::Error>(self, b: bool) -> Result<Json, E> {
                Ok(Json::Bool(b))
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Json, E> {
                Ok(Json::Number(n.into()))
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Json, E> {
                Ok(Json::Number(n.into()))
            }
            fn visit_f64<E: de::Error>(self, n: f64) -> Result<Json, E> {
                serde_json::Number::from_f64(n)
                    .map(Json::Number)
                    .ok_or_else(|| E::custom("not a JSON number"))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Json, E> {
                Ok(Json::String(s.to_owned()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Json::List(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
                let mut fields = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    fields.push(entry);
                }
                Ok(Json::Object(fields))
            }
        }
        deserializer.deserialize_any(Read)
    }
}

/// What the checks need of the schema: fields' types, enums' values, interfaces' types.
pub(super) struct Types {
    fields: HashMap<String, HashMap<String, Type>>,
    enums: HashMap<String, Vec<String>>,
    implementers: HashMap<String, Vec<String>>,
    objects: Vec<String>,
}

impl Types {
    pub(super) fn new(schema: &ServiceDocument) -> Self {
        let mut types = Types {
            fields: HashMap::new(),
            enums: HashMap::new(),
            implementers: HashMap::new(),
            objects: Vec::new(),
        };
        for definition in &schema.definitions {
            let TypeSystemDefinition::Type(def) = definition else {
                continue;
            };
            let name = def.node.name.node.to_string();
            let fields = match &def.node.kind {
                TypeKind::Object(object) => {
                    types.objects.push(name.clone());
                    for interface in &object.implements {
                        (types.implementers.entry(interface.node.to_string()))
                            .or_default()
                            .push(name.clone());
                    }
                    &object.fields
                }
                TypeKind::Interface(interface) => &interface.fields,
                TypeKind::Enum(values) => {
                    let values = values.values.iter().map(|v| v.node.value.node.to_string());
                    types.enums.insert(name, values.collect());
                    continue;
                }
                _ => continue,
            };
            let fields = fields
                .iter()
                .map(|f| (f.node.name.node.to_string(), f.node.ty.node.clone()));
            types.fields.insert(name, fields.collect());
        }
        types
    }

    /// The object types a value of `type_name` may be.
    fn possible(&self, type_name: &str) -> Vec<String> {
        match self.implementers.get(type_name) {
            Some(objects) => objects.clone(),
            None => vec![type_name.to_owned()],
        }
    }
}

/// One answer being checked against its document.
struct Check<'a> {
    types: &'a Types,
    document: &'a ExecutableDocument,
    variables: &'a Value,
    /// Paths that errors were reported at.
    failed: Vec<Vec<Value>>,
    problems: Vec<String>,
}

impl<'a> Check<'a> {
    /// The fields `sets` select on objects of `object`, merged by response key in order.
    fn fields(
        &self,
        object: &str,
        sets: &[&'a SelectionSet],
        out: &mut Vec<(String, Vec<&'a async_graphql::parser::types::Field>)>,
    ) {
        for set in sets {
            for item in &set.items {
                if !self.included(item.node.directives()) {
                    continue;
                }
                match &item.node {
                    Selection::Field(field) => {
                        let key = field.node.response_key().node.to_string();
                        match out.iter_mut().find(|(k, _)| *k == key) {
                            Some((_, fields)) => fields.push(&field.node),
                            None => out.push((key, vec![&field.node])),
                        }
                    }
                    Selection::FragmentSpread(spread) => {
                        let fragment = &self.document.fragments[&spread.node.fragment_name.node];
                        let on = fragment.node.type_condition.node.on.node.as_str();
                        if self.types.possible(on).iter().any(|t| t == object) {
                            self.fields(object, &[&fragment.node.selection_set.node], out);
                        }
                    }
                    Selection::InlineFragment(inline) => {
                        let applies = match &inline.node.type_condition {
                            Some(c) => (self.types.possible(c.node.on.node.as_str()))
                                .iter()
                                .any(|t| t == object),
                            None => true,
                        };
                        if applies {
                            self.fields(object, &[&inline.node.selection_set.node], out);
                        }
                    }
                }
            }
        }
    }

    fn included(
        &self,
        directives: &[async_graphql::Positioned<async_graphql::parser::types::Directive>],
    ) -> bool {
        directives.iter().all(|d| {
            let condition = match d.node.get_argument("if").map(|v| &v.node) {
                Some(async_graphql_value::Value::Boolean(b)) => *b,
                Some(async_graphql_value::Value::Variable(name)) => {
                    self.variables[name.as_str()].as_bool().unwrap_or(false)
                }
                _ => true,
            };
            match d.node.name.node.as_str() {
                "skip" => !condition,
                "include" => condition,
                _ => true,
            }
        })
    }

    fn problem(&mut self, path: &[Value], what: String) {
        self.problems
            .push(format!("at {}: {what}", Value::from(path.to_vec())));
    }

    /// Checks `value`, at `path`, of type `ty` selected by `sets`.
    fn value(&mut self, value: &Json, ty: &Type, sets: &[&'a SelectionSet], path: &mut Vec<Value>) {
        let failed = self.failed.contains(path);
        if *value == Json::Null {
            if !ty.nullable && !failed {
                self.problem(path, format!("null for {ty} without an error"));
            }
            return;
        }
        if failed {
            self.problem(path, "an error here, and a value".to_owned());
        }
        match (&ty.base, value) {
            (BaseType::List(item), Json::List(items)) => {
                for (i, element) in items.iter().enumerate() {
                    path.push(json!(i));
                    self.value(element, item, sets, path);
                    path.pop();
                }
            }
            (BaseType::List(_), other) => self.problem(path, format!("{other:?} for {ty}")),
            (BaseType::Named(name), value) => self.named(value, name.as_str(), sets, path),
        }
    }

    fn named(
        &mut self,
        value: &Json,
        name: &str,
        sets: &[&'a SelectionSet],
        path: &mut Vec<Value>,
    ) {
        let valid = match (name, value) {
            ("Int", Json::Number(n)) => n.as_i64().is_some_and(|n| i32::try_from(n).is_ok()),
            ("Float", Json::Number(_)) => true,
            ("String" | "ID", Json::String(_)) => true,
            ("Boolean", Json::Bool(_)) => true,
            ("DateTime", Json::String(s)) => chrono::DateTime::parse_from_rfc3339(s).is_ok(),
            (name, Json::String(s)) if self.types.enums.contains_key(name) => {
                self.types.enums[name].contains(s)
            }
            (name, Json::Object(fields)) if self.types.fields.contains_key(name) => {
                self.object(fields, name, sets, path);
                true
            }
            _ => false,
        };
        if !valid {
            self.problem(path, format!("{value:?} is not a {name}"));
        }
    }

    /// Checks an object of `type_name` (an interface: one of its types, whichever the keys
    /// and `__typename` say).
    fn object(
        &mut self,
        fields: &[(String, Json)],
        type_name: &str,
        sets: &[&'a SelectionSet],
        path: &mut Vec<Value>,
    ) {
        let keys: Vec<&str> = fields.iter().map(|(k, _)| k.as_str()).collect();
        let typename = fields.iter().find_map(|(_, v)| match v {
            Json::String(s) if self.types.objects.contains(s) => Some(s.as_str()),
            _ => None,
        });
        let mut candidates = Vec::new();
        for object in self.types.possible(type_name) {
            let mut selected = Vec::new();
            self.fields(&object, sets, &mut selected);
            let expected: Vec<&str> = selected.iter().map(|(k, _)| k.as_str()).collect();
            if expected == keys {
                candidates.push((object, selected));
            }
        }
        // Which of the types whose selection has these keys: the one `__typename` or the
        // global id names, else any.
        let id_kind = fields.iter().find_map(|(k, v)| match v {
            Json::String(id) if k == "id" => decoded_id(id).map(|(kind, _)| kind),
            _ => None,
        });
        let named = typename.map(str::to_owned).or(id_kind);
        let chosen = match named {
            Some(named) if candidates.iter().any(|(o, _)| *o == named) => {
                candidates.into_iter().find(|(o, _)| *o == named)
            }
            _ => candidates.into_iter().next(),
        };
        let Some((object, selected)) = chosen else {
            self.problem(
                path,
                format!("keys {keys:?} are no selection of {type_name}"),
            );
            return;
        };
        for ((key, value), (_, occurrences)) in fields.iter().zip(&selected) {
            let field = occurrences[0];
            path.push(json!(key));
            let name = field.name.node.as_str();
            if name == "__typename" {
                if *value != Json::String(object.clone()) {
                    self.problem(path, format!("{value:?} for an object of {object}"));
                }
            } else {
                let ty = self.types.fields[&object][name].clone();
                let below: Vec<&SelectionSet> =
                    occurrences.iter().map(|f| &f.selection_set.node).collect();
                self.value(value, &ty, &below, path);
            }
            path.pop();
        }
        self.ids(fields, &object, &selected, path);
    }

    /// An unaliased `id` decodes to the object's type and to its unaliased `databaseId`.
    fn ids(
        &mut self,
        fields: &[(String, Json)],
        object: &str,
        selected: &[(String, Vec<&async_graphql::parser::types::Field>)],
        path: &[Value],
    ) {
        let plain = |name: &str| {
            selected
                .iter()
                .zip(fields)
                .find_map(|((key, f), (_, value))| {
                    (key == name && f[0].name.node == name).then_some(value)
                })
        };
        let Some(Json::String(id)) = plain("id") else {
            return;
        };
        let Some((kind, number)) = decoded_id(id) else {
            self.problem(path, format!("id {id} is not a global id"));
            return;
        };
        if kind != object {
            self.problem(path, format!("id {id} is a {kind}'s, on a {object}"));
        }
        if let Some(Json::Number(database_id)) = plain("databaseId")
            && database_id.to_string() != number
        {
            self.problem(path, format!("id {id} and databaseId {database_id} differ"));
        }
    }
}

/// A global id's type and number.
pub(super) fn decoded_id(id: &str) -> Option<(String, String)> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(id)
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (kind, number) = text.split_once(':')?;
    Some((kind.to_owned(), number.to_owned()))
}

/// An answer without what differs by request (request and trace ids).
pub(super) fn without_ids(raw: &[u8]) -> Value {
    let mut body: Value = serde_json::from_slice(raw).expect("a JSON answer");
    for error in body["errors"].as_array_mut().into_iter().flatten() {
        if let Some(extensions) = error["extensions"].as_object_mut() {
            extensions.remove("requestId");
            extensions.remove("traceId");
        }
    }
    body
}

/// One request and where it came from, to report a problem so that it can be replayed.
pub(super) struct Case {
    pub(super) origin: String,
    pub(super) query: String,
    pub(super) variables: Value,
}

/// Checks an answer (status and raw body) to `case`; returns what is wrong with it.
pub(super) fn problems(types: &Types, case: &Case, status: StatusCode, raw: &[u8]) -> Vec<String> {
    let body: Value = serde_json::from_slice(raw).expect("a JSON answer");
    let ordered: Json = serde_json::from_slice(raw).expect("a JSON answer");
    let mut found = Vec::new();
    if status != StatusCode::OK {
        found.push(format!("HTTP {status}"));
    }
    let errors = body["errors"].as_array().cloned().unwrap_or_default();
    for error in &errors {
        let code = error["extensions"]["code"].as_str().unwrap_or_default();
        // No partner runs beside these gateways: offers fail as it is unreachable.
        let offers = error["path"].as_array().and_then(|p| p.last()) == Some(&json!("offers"));
        if !(CODES.contains(&code) || (offers && code == "UPSTREAM_UNAVAILABLE")) {
            found.push(format!("error code {code:?}: {error}"));
        }
    }
    let mut failed = Vec::new();
    for error in &errors {
        let located = error["locations"].as_array().is_some_and(|l| !l.is_empty());
        match error["path"].as_array() {
            Some(path) if !path.is_empty() && located => failed.push(path.clone()),
            _ => found.push(format!("an error without its path or locations: {error}")),
        }
    }
    let document = async_graphql::parser::parse_query(&case.query).expect("the document parses");
    let Some((_, operation)) = document.operations.iter().next() else {
        return vec!["no operation".to_owned()];
    };
    let root = match operation.node.ty {
        async_graphql::parser::types::OperationType::Mutation => "Mutation",
        _ => "Query",
    };
    let mut variables = case.variables.clone();
    for definition in &operation.node.variable_definitions {
        let name = definition.node.name.node.to_string();
        if variables.get(&name).is_none()
            && let Some(default) = definition.node.default_value()
        {
            variables[name] = default.clone().into_json().expect("a JSON default");
        }
    }
    let mut check = Check {
        types,
        document: &document,
        variables: &variables,
        failed,
        problems: Vec::new(),
    };
    let data = match &ordered {
        Json::Object(fields) => fields.iter().find(|(k, _)| k == "data").map(|(_, v)| v),
        _ => None,
    };
    match data {
        Some(Json::Object(fields)) => {
            let set = &operation.node.selection_set.node;
            check.object(fields, root, &[set], &mut Vec::new());
        }
        other => found.push(format!("data is {other:?}")),
    }
    found.extend(check.problems);
    found
}
