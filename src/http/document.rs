//! Limits on what a client may send, checked before anything expensive runs. The GraphQL
//! parser and validator recurse, so a document is first scanned as a flat token stream
//! (size, token count, bracket nesting, nesting inside values) — a scan that cannot recurse
//! or overflow a stack — and only a document that passes is parsed. The parsed document is
//! then measured (selection depth and the fields it expands to through fragments, aliases,
//! root fields, directives) with memoised walks whose recursion the scan has already
//! bounded. Each limit has its own stable error code.
//!
//! Introspection (`__schema`, `__type`) is measured by its own depth: the introspection
//! types are recursive by design, and the query every client tool sends (graphql-js's
//! `getIntrospectionQuery`) follows `ofType` nine levels deep to unwrap types like
//! `[Product!]!`. So inside an introspection field `ofType` steps are not counted: past the
//! deepest wrapping the schema has they resolve to null, and the gate charges what they do
//! return (see `core::introspection`). What remains is bounded by `max_introspection_depth`,
//! which stops `fields { type { fields { type … } } }` loops.

use std::collections::HashMap;

use async_graphql::parser::types::{
    ExecutableDocument, Field, FragmentDefinition, OperationDefinition, Selection, SelectionSet,
};
use async_graphql::{Name, Positioned};
use serde_json::Value;

use crate::core::introspection::is_introspection;

/// The limits, each configurable (see `config.rs`).
#[derive(Debug, Clone, Copy)]
pub struct DocumentLimits {
    /// Bytes of the document text.
    pub max_bytes: usize,
    /// Lexical tokens (names, punctuators, values).
    pub max_tokens: usize,
    /// Brackets (`{ ( [`) open at once anywhere in the document: what bounds the parser's
    /// recursion.
    pub max_nesting: usize,
    /// Lists and objects nested inside one argument value, a variable default or a
    /// variable's JSON value.
    pub max_value_depth: usize,
    /// Selection depth of an operation, counted through fragments; an introspection field
    /// counts as one level here, its subtree has its own limit.
    pub max_depth: usize,
    /// Depth of a `__schema` or `__type` field's subtree, the field included and `ofType`
    /// steps not counted. The standard introspection query needs 6.
    pub max_introspection_depth: usize,
    /// Fields the operation expands to once every fragment spread is replaced by its fields
    /// (fragment fan-out: what a "billion laughs" document multiplies).
    pub max_fields: usize,
    /// Aliased fields in the document.
    pub max_aliases: usize,
    /// Fields at the root of the operation (through fragments).
    pub max_root_fields: usize,
    /// Directives on one field, fragment spread or inline fragment.
    pub max_directives: usize,
    /// Operations in one document.
    pub max_operations: usize,
}

impl Default for DocumentLimits {
    fn default() -> Self {
        Self {
            max_bytes: 32 * 1024,
            max_tokens: 3_000,
            max_nesting: 48,
            max_value_depth: 8,
            max_depth: 12,
            max_introspection_depth: 8,
            max_fields: 2_000,
            max_aliases: 30,
            max_root_fields: 20,
            max_directives: 4,
            max_operations: 10,
        }
    }
}

/// A document refused by a limit: the code clients can rely on, and a message saying which
/// limit and its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitExceeded {
    /// The limit's stable error code (one of `code`), for `extensions.code`.
    pub code: &'static str,
    /// Which limit was passed, and its value.
    pub message: String,
}

/// The codes of the limits.
pub mod code {
    /// The document text is longer than `max_bytes`.
    pub const DOCUMENT_TOO_LARGE: &str = "DOCUMENT_TOO_LARGE";
    /// The document has more than `max_tokens` tokens.
    pub const TOO_MANY_TOKENS: &str = "TOO_MANY_TOKENS";
    /// Brackets are nested deeper than `max_nesting`.
    pub const NESTING_TOO_DEEP: &str = "NESTING_TOO_DEEP";
    /// An argument value or a variable nests deeper than `max_value_depth`.
    pub const VALUE_TOO_DEEP: &str = "VALUE_TOO_DEEP";
    /// Selections nest deeper than `max_depth`, or introspection deeper than
    /// `max_introspection_depth`.
    pub const QUERY_TOO_DEEP: &str = "QUERY_TOO_DEEP";
    /// An operation expands to more than `max_fields` fields through its fragments.
    pub const TOO_MANY_FIELDS: &str = "TOO_MANY_FIELDS";
    /// The document has more than `max_aliases` aliased fields.
    pub const TOO_MANY_ALIASES: &str = "TOO_MANY_ALIASES";
    /// An operation selects more than `max_root_fields` root fields.
    pub const TOO_MANY_ROOT_FIELDS: &str = "TOO_MANY_ROOT_FIELDS";
    /// A field, fragment or spread carries more than `max_directives` directives.
    pub const TOO_MANY_DIRECTIVES: &str = "TOO_MANY_DIRECTIVES";
    /// The document defines more than `max_operations` operations.
    pub const TOO_MANY_OPERATIONS: &str = "TOO_MANY_OPERATIONS";
    /// A fragment spreads itself, directly or through other fragments.
    pub const FRAGMENT_CYCLE: &str = "FRAGMENT_CYCLE";
}

fn exceeded(code: &'static str, message: String) -> LimitExceeded {
    LimitExceeded { code, message }
}

/// Scans the text: size, tokens, bracket nesting, and nesting inside values. Linear in the
/// text, no recursion. Text the scan does not understand is left for the parser to refuse.
pub fn scan(text: &str, limits: &DocumentLimits) -> Result<(), LimitExceeded> {
    if text.len() > limits.max_bytes {
        return Err(exceeded(
            code::DOCUMENT_TOO_LARGE,
            format!("the document is larger than {} bytes", limits.max_bytes),
        ));
    }
    let bytes = text.as_bytes();
    let mut tokens = 0usize;
    // The open brackets, innermost last.
    let mut open: Vec<u8> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b' ' | b'\t' | b'\n' | b'\r' | b',' => {
                i += 1;
                continue;
            }
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' && bytes[i] != b'\r' {
                    i += 1;
                }
                continue;
            }
            b'"' if bytes[i..].starts_with(b"\"\"\"") => i = block_string_end(bytes, i + 3),
            b'"' => i = string_end(bytes, i + 1),
            b'{' | b'(' | b'[' => {
                open.push(b);
                if open.len() > limits.max_nesting {
                    return Err(exceeded(
                        code::NESTING_TOO_DEEP,
                        format!("brackets are nested deeper than {}", limits.max_nesting),
                    ));
                }
                if b != b'(' {
                    let in_value = open.iter().rposition(|&o| o == b'(');
                    let depth = in_value.map_or(0, |at| open.len() - at - 1);
                    if depth > limits.max_value_depth {
                        return Err(exceeded(
                            code::VALUE_TOO_DEEP,
                            format!(
                                "an argument value nests lists or objects deeper than {}",
                                limits.max_value_depth
                            ),
                        ));
                    }
                }
                i += 1;
            }
            b'}' | b')' | b']' => {
                open.pop();
                i += 1;
            }
            b'.' if bytes[i..].starts_with(b"...") => i += 3,
            b if b == b'_' || b.is_ascii_alphanumeric() || b == b'-' => {
                i += 1;
                while i < bytes.len()
                    && (bytes[i] == b'_' || bytes[i].is_ascii_alphanumeric() || bytes[i] == b'.')
                {
                    i += 1;
                }
            }
            _ => i += 1,
        }
        tokens += 1;
        if tokens > limits.max_tokens {
            return Err(exceeded(
                code::TOO_MANY_TOKENS,
                format!("the document has more than {} tokens", limits.max_tokens),
            ));
        }
    }
    Ok(())
}

/// The index after a string's closing quote (or the end of the text).
fn string_end(bytes: &[u8], mut i: usize) -> usize {
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            b'\n' | b'\r' => return i,
            _ => i += 1,
        }
    }
    bytes.len()
}

/// The index after a block string's closing `"""` (or the end of the text).
fn block_string_end(bytes: &[u8], mut i: usize) -> usize {
    while i < bytes.len() {
        if bytes[i..].starts_with(b"\\\"\"\"") {
            i += 4;
        } else if bytes[i..].starts_with(b"\"\"\"") {
            return i + 3;
        } else {
            i += 1;
        }
    }
    bytes.len()
}

/// How deep lists and objects nest in a variable's JSON value.
pub fn check_variables(variables: &Value, limits: &DocumentLimits) -> Result<(), LimitExceeded> {
    // serde_json refuses more than 128 levels while parsing, so this recursion is bounded.
    fn depth(value: &Value) -> usize {
        match value {
            Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
            Value::Object(fields) => 1 + fields.values().map(depth).max().unwrap_or(0),
            _ => 0,
        }
    }
    let Value::Object(variables) = variables else {
        return Ok(());
    };
    if variables
        .values()
        .any(|v| depth(v) > limits.max_value_depth)
    {
        return Err(exceeded(
            code::VALUE_TOO_DEEP,
            format!(
                "a variable nests lists or objects deeper than {}",
                limits.max_value_depth
            ),
        ));
    }
    Ok(())
}

/// What a selection set amounts to once its fragments are expanded.
#[derive(Debug, Clone, Copy, Default)]
struct Size {
    depth: usize,
    fields: usize,
}

/// Measures the parsed document against the limits. The scan bounded the nesting, so the
/// walks' recursion is bounded; fragments are measured once each (memoised), so a fragment
/// bomb costs its definitions, not its expansion.
pub fn check_document(
    document: &ExecutableDocument,
    limits: &DocumentLimits,
) -> Result<(), LimitExceeded> {
    let operations: Vec<&Positioned<OperationDefinition>> =
        document.operations.iter().map(|(_, op)| op).collect();
    if operations.len() > limits.max_operations {
        return Err(exceeded(
            code::TOO_MANY_OPERATIONS,
            format!(
                "the document has more than {} operations",
                limits.max_operations
            ),
        ));
    }
    let mut walk = Walk {
        fragments: &document.fragments,
        sizes: HashMap::new(),
        visiting: Vec::new(),
        aliases: 0,
        limits,
    };
    for fragment in document.fragments.values() {
        walk.directives(fragment.node.directives.len())?;
    }
    for operation in operations {
        let root = &operation.node.selection_set.node;
        let size = walk.selection_set(root, Within::Data)?;
        if size.depth > limits.max_depth {
            return Err(exceeded(
                code::QUERY_TOO_DEEP,
                format!("the operation is nested deeper than {}", limits.max_depth),
            ));
        }
        if size.fields > limits.max_fields {
            return Err(exceeded(
                code::TOO_MANY_FIELDS,
                format!(
                    "the operation expands to more than {} fields through its fragments",
                    limits.max_fields
                ),
            ));
        }
        if walk.root_fields(root)? > limits.max_root_fields {
            return Err(exceeded(
                code::TOO_MANY_ROOT_FIELDS,
                format!(
                    "the operation selects more than {} root fields",
                    limits.max_root_fields
                ),
            ));
        }
    }
    if walk.aliases > limits.max_aliases {
        return Err(exceeded(
            code::TOO_MANY_ALIASES,
            format!("the document has more than {} aliases", limits.max_aliases),
        ));
    }
    Ok(())
}

/// What a selection set is measured as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Within {
    /// The operation's own fields.
    Data,
    /// The subtree of a `__schema` or `__type` field.
    Introspection,
}

struct Walk<'a> {
    fragments: &'a HashMap<Name, Positioned<FragmentDefinition>>,
    /// Each fragment's size, as data and as introspection (where `ofType` is not counted).
    sizes: HashMap<(&'a str, Within), Size>,
    /// Fragments being measured, to find cycles (which validation would refuse, but only
    /// after our walk had looped).
    visiting: Vec<&'a str>,
    aliases: usize,
    limits: &'a DocumentLimits,
}

impl<'a> Walk<'a> {
    fn directives(&self, count: usize) -> Result<(), LimitExceeded> {
        if count > self.limits.max_directives {
            return Err(exceeded(
                code::TOO_MANY_DIRECTIVES,
                format!(
                    "a field or fragment has more than {} directives",
                    self.limits.max_directives
                ),
            ));
        }
        Ok(())
    }

    fn selection_set(
        &mut self,
        set: &'a SelectionSet,
        within: Within,
    ) -> Result<Size, LimitExceeded> {
        let mut size = Size::default();
        for item in &set.items {
            let inner = match &item.node {
                Selection::Field(field) => self.field(&field.node, within)?,
                Selection::FragmentSpread(spread) => {
                    self.directives(spread.node.directives.len())?;
                    self.fragment(spread.node.fragment_name.node.as_str(), within)?
                }
                Selection::InlineFragment(inline) => {
                    self.directives(inline.node.directives.len())?;
                    self.selection_set(&inline.node.selection_set.node, within)?
                }
            };
            size.depth = size.depth.max(inner.depth);
            size.fields = size.fields.saturating_add(inner.fields);
        }
        Ok(size)
    }

    fn field(&mut self, field: &'a Field, within: Within) -> Result<Size, LimitExceeded> {
        self.directives(field.directives.len())?;
        if field.alias.is_some() {
            self.aliases += 1;
        }
        let name = field.name.node.as_str();
        let children = &field.selection_set.node;
        if within == Within::Data && is_introspection(name) {
            let subtree = self.selection_set(children, Within::Introspection)?;
            if subtree.depth + 1 > self.limits.max_introspection_depth {
                return Err(exceeded(
                    code::QUERY_TOO_DEEP,
                    format!(
                        "the introspection is nested deeper than {} (`ofType` not counted)",
                        self.limits.max_introspection_depth
                    ),
                ));
            }
            // One level of the operation, however deep its own subtree.
            return Ok(Size {
                depth: 1,
                fields: subtree.fields.saturating_add(1),
            });
        }
        let children = self.selection_set(children, within)?;
        let step = usize::from(!(within == Within::Introspection && name == "ofType"));
        Ok(Size {
            depth: children.depth + step,
            fields: children.fields.saturating_add(1),
        })
    }

    fn fragment(&mut self, name: &'a str, within: Within) -> Result<Size, LimitExceeded> {
        if let Some(size) = self.sizes.get(&(name, within)) {
            return Ok(*size);
        }
        // An unknown fragment is validation's to report.
        let Some(fragment) = self.fragments.get(name) else {
            return Ok(Size::default());
        };
        if self.visiting.contains(&name) {
            return Err(exceeded(
                code::FRAGMENT_CYCLE,
                format!("fragment {name} spreads itself"),
            ));
        }
        self.visiting.push(name);
        // A fragment's aliases count once, where it is defined, however often it is spread
        // (and whether it is measured as data, as introspection or both).
        let aliases = self.aliases;
        let size = self.selection_set(&fragment.node.selection_set.node, within)?;
        if self.sizes.keys().any(|(known, _)| *known == name) {
            self.aliases = aliases;
        }
        self.visiting.pop();
        self.sizes.insert((name, within), size);
        Ok(size)
    }

    /// Root fields through fragments (their sizes are known by now).
    fn root_fields(&mut self, set: &'a SelectionSet) -> Result<usize, LimitExceeded> {
        let mut count = 0usize;
        for item in &set.items {
            count = count.saturating_add(match &item.node {
                Selection::Field(_) => 1,
                Selection::FragmentSpread(spread) => {
                    let name = spread.node.fragment_name.node.as_str();
                    match self.fragments.get(name) {
                        Some(fragment) => self.root_fields(&fragment.node.selection_set.node)?,
                        None => 0,
                    }
                }
                Selection::InlineFragment(inline) => {
                    self.root_fields(&inline.node.selection_set.node)?
                }
            });
            if count > self.limits.max_root_fields {
                break;
            }
        }
        Ok(count)
    }
}
