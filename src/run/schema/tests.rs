//! One pair of small schemas per kind of change, and the line `schema diff` prints for it.

use super::diff;
use super::sdl::{parse, without_schema_description};

/// The report lines from `old` to `new`, each read as `schema diff` reads a file.
fn changes(old: &str, new: &str) -> Vec<String> {
    let (old, new) = (parse(old, "old").unwrap(), parse(new, "new").unwrap());
    diff(&old, &new).iter().map(ToString::to_string).collect()
}

#[track_caller]
fn assert_changes(old: &str, new: &str, expected: &[&str]) {
    assert_eq!(changes(old, new), expected, "\nold:\n{old}\nnew:\n{new}");
}

// Breaking: operations that were valid fail, or get values their client cannot read.

#[test]
fn removing_a_type_is_breaking() {
    let old = "type Query { a: Int } type Brand { id: ID }";
    assert_changes(
        old,
        "type Query { a: Int }",
        &["BREAKING  Brand: type removed"],
    );
}

#[test]
fn changing_the_kind_of_a_type_is_breaking() {
    assert_changes(
        "type Brand { id: ID }",
        "input Brand { id: ID }",
        &["BREAKING  Brand: kind changed from object to input object"],
    );
}

#[test]
fn removing_a_field_that_was_not_deprecated_is_breaking_and_says_so() {
    assert_changes(
        "type Brand { id: ID name: String }",
        "type Brand { id: ID }",
        &["BREAKING  Brand.name: field removed without deprecation"],
    );
}

#[test]
fn removing_a_deprecated_field_is_breaking() {
    assert_changes(
        r#"type Brand { id: ID name: String @deprecated(reason: "Use title") }"#,
        "type Brand { id: ID }",
        &["BREAKING  Brand.name: deprecated field removed"],
    );
}

#[test]
fn an_output_field_that_may_now_be_null_is_breaking() {
    assert_changes(
        "type Brand { name: String! }",
        "type Brand { name: String }",
        &["BREAKING  Brand.name: type changed from String! to String"],
    );
}

#[test]
fn an_output_field_of_another_type_or_list_depth_is_breaking() {
    assert_changes(
        "type Brand { name: String tags: [String] }",
        "type Brand { name: Int tags: String }",
        &[
            "BREAKING  Brand.name: type changed from String to Int",
            "BREAKING  Brand.tags: type changed from [String] to String",
        ],
    );
}

#[test]
fn removing_an_argument_is_breaking() {
    assert_changes(
        "type Query { brand(id: ID, slug: String): Int }",
        "type Query { brand(id: ID): Int }",
        &["BREAKING  Query.brand: argument slug removed"],
    );
}

#[test]
fn an_argument_that_becomes_required_is_breaking() {
    assert_changes(
        "type Query { brand(id: ID): Int }",
        "type Query { brand(id: ID!): Int }",
        &["BREAKING  Query.brand: argument id type changed from ID to ID!"],
    );
}

#[test]
fn an_argument_whose_list_items_become_non_null_is_breaking() {
    assert_changes(
        "type Query { brands(ids: [ID]): Int }",
        "type Query { brands(ids: [ID!]): Int }",
        &["BREAKING  Query.brands: argument ids type changed from [ID] to [ID!]"],
    );
}

#[test]
fn adding_a_required_argument_is_breaking() {
    assert_changes(
        "type Query { brand: Int }",
        "type Query { brand(id: ID!): Int }",
        &["BREAKING  Query.brand: required argument id added"],
    );
}

#[test]
fn adding_a_required_input_field_is_breaking() {
    assert_changes(
        "input Filter { q: String }",
        "input Filter { q: String color: String! }",
        &["BREAKING  Filter.color: required input field added"],
    );
}

#[test]
fn removing_an_input_field_is_breaking() {
    assert_changes(
        "input Filter { q: String color: String }",
        "input Filter { q: String }",
        &["BREAKING  Filter.color: input field removed"],
    );
}

#[test]
fn an_input_field_that_becomes_required_is_breaking() {
    assert_changes(
        "input Filter { q: String }",
        "input Filter { q: String! }",
        &["BREAKING  Filter.q: input field type changed from String to String!"],
    );
}

#[test]
fn removing_an_enum_value_is_breaking() {
    assert_changes(
        "enum Color { RED BLUE }",
        "enum Color { RED }",
        &["BREAKING  Color.BLUE: enum value removed without deprecation"],
    );
}

#[test]
fn removing_a_union_member_is_breaking() {
    assert_changes(
        "type A { a: Int } type B { b: Int } union Hit = A | B",
        "type A { a: Int } type B { b: Int } union Hit = A",
        &["BREAKING  Hit: member B removed"],
    );
}

#[test]
fn an_object_that_no_longer_implements_an_interface_is_breaking() {
    assert_changes(
        "interface Node { id: ID } type Brand implements Node { id: ID }",
        "interface Node { id: ID } type Brand { id: ID }",
        &["BREAKING  Brand: interface Node removed"],
    );
}

#[test]
fn removing_a_directive_or_its_argument_or_location_is_breaking() {
    let old = "directive @a(x: Int) on FIELD | FRAGMENT_SPREAD directive @b on FIELD";
    assert_changes(
        old,
        "directive @a on FIELD",
        &[
            "BREAKING  @a: argument x removed",
            "BREAKING  @a: location FRAGMENT_SPREAD removed",
            "BREAKING  @b: directive removed",
        ],
    );
}

#[test]
fn changing_a_root_operation_type_is_breaking() {
    assert_changes(
        "schema { query: Query } type Query { a: Int } type Root { a: Int }",
        "schema { query: Root } type Query { a: Int } type Root { a: Int }",
        &["BREAKING  schema: query root changed from Query to Root"],
    );
}

// Dangerous: operations stay valid, but what they return or how a client must handle it
// may change.

#[test]
fn adding_an_enum_value_is_dangerous() {
    assert_changes(
        "enum Color { RED }",
        "enum Color { RED BLUE }",
        &["DANGEROUS Color.BLUE: enum value added"],
    );
}

#[test]
fn adding_a_union_member_is_dangerous() {
    assert_changes(
        "type A { a: Int } type B { b: Int } union Hit = A",
        "type A { a: Int } type B { b: Int } union Hit = A | B",
        &["DANGEROUS Hit: member B added"],
    );
}

#[test]
fn an_object_that_implements_one_more_interface_is_dangerous() {
    assert_changes(
        "interface Node { id: ID } type Brand { id: ID }",
        "interface Node { id: ID } type Brand implements Node { id: ID }",
        &["DANGEROUS Brand: interface Node added"],
    );
}

#[test]
fn adding_an_optional_argument_is_dangerous() {
    assert_changes(
        "type Query { brands: Int }",
        "type Query { brands(first: Int, sort: String! = \"name\"): Int }",
        &[
            "DANGEROUS Query.brands: optional argument first added",
            "DANGEROUS Query.brands: optional argument sort added",
        ],
    );
}

#[test]
fn adding_an_optional_input_field_is_dangerous() {
    assert_changes(
        "input Filter { q: String }",
        "input Filter { q: String color: String }",
        &["DANGEROUS Filter.color: optional input field added"],
    );
}

#[test]
fn changing_the_default_of_an_argument_or_input_field_is_dangerous() {
    assert_changes(
        "type Query { brands(first: Int = 10): Int } input Filter { size: Int = 1 }",
        "type Query { brands(first: Int = 20): Int } input Filter { size: Int }",
        &[
            "DANGEROUS Filter.size: input field default value 1 removed",
            "DANGEROUS Query.brands: argument first default value changed from 10 to 20",
        ],
    );
}

#[test]
fn taking_a_deprecation_back_is_dangerous() {
    assert_changes(
        "type Brand { name: String @deprecated }",
        "type Brand { name: String }",
        &["DANGEROUS Brand.name: field no longer deprecated"],
    );
}

// Safe: nothing changes for existing operations.

#[test]
fn adding_a_type_a_field_or_a_directive_is_safe() {
    assert_changes(
        "type Query { a: Int }",
        "type Query { a: Int b: Int } type Brand { id: ID } directive @c on FIELD",
        &[
            "SAFE      Query.b: field added",
            "SAFE      Brand: type added",
            "SAFE      @c: directive added",
        ],
    );
}

#[test]
fn changing_descriptions_is_safe() {
    assert_changes(
        r#""Old." type Brand { "Its name." name(locale: String): String }"#,
        r#""New." type Brand { name("The locale." locale: String): String }"#,
        &[
            "SAFE      Brand: description changed",
            "SAFE      Brand.name: argument locale description added",
            "SAFE      Brand.name: description removed",
        ],
    );
}

#[test]
fn deprecating_a_field_or_an_enum_value_is_safe() {
    assert_changes(
        "type Brand { name: String } enum Color { RED }",
        r#"type Brand { name: String @deprecated(reason: "Use title") } enum Color { RED @deprecated }"#,
        &[
            "SAFE      Brand.name: field deprecated: Use title",
            "SAFE      Color.RED: enum value deprecated: No longer supported",
        ],
    );
}

#[test]
fn an_output_field_that_can_no_longer_be_null_is_safe() {
    assert_changes(
        "type Brand { name: String tags: [String] }",
        "type Brand { name: String! tags: [String!]! }",
        &[
            "SAFE      Brand.name: type changed from String to String!",
            "SAFE      Brand.tags: type changed from [String] to [String!]!",
        ],
    );
}

#[test]
fn an_argument_or_input_field_that_becomes_optional_is_safe() {
    assert_changes(
        "type Query { brand(id: ID!): Int } input Filter { q: [String!]! }",
        "type Query { brand(id: ID): Int } input Filter { q: [String] }",
        &[
            "SAFE      Filter.q: input field type changed from [String!]! to [String]",
            "SAFE      Query.brand: argument id type changed from ID! to ID",
        ],
    );
}

#[test]
fn adding_an_optional_directive_argument_or_a_location_is_safe() {
    assert_changes(
        "directive @a on FIELD",
        "directive @a(x: Int) on FIELD | FIELD_DEFINITION",
        &[
            "SAFE      @a: optional argument x added",
            "SAFE      @a: location FIELD_DEFINITION added",
        ],
    );
}

// The comparison itself.

#[test]
fn identical_schemas_have_no_changes_even_when_written_differently() {
    let old = "type Query { a: Int b(x: Int = 1): [String!] }";
    let new = "type Query {\n  a: Int\n}\nextend type Query {\n  b(x: Int = 1): [String!]\n}";
    assert_changes(old, new, &[]);
}

#[test]
fn breaking_changes_come_first_then_dangerous_then_safe() {
    let lines = changes(
        "type Query { a: Int b: Int } enum Color { RED }",
        "type Query { a: Int c: Int } enum Color { RED BLUE }",
    );
    let levels: Vec<&str> = lines.iter().map(|line| &line[..9]).collect();
    assert_eq!(
        levels,
        ["BREAKING ", "DANGEROUS", "SAFE     "],
        "{lines:#?}"
    );
}

// What async-graphql exports and what graphql-js prints from introspection: the same schema
// written two ways. graphql-js leaves out the spec's directives, prints a Float default
// without its fraction and puts the schema's description before `schema`.

/// A schema as async-graphql exports it: it defines spec directives, writes `1.0`.
const EXPORTED: &str = r#"
"""A collage item."""
input CollageItemInput {
	scale: Float! = 1.0
	tags: [String!]! = []
}
type Query {
	collages(first: Int! = 8, orderBy: Order! = NEWEST, item: CollageItemInput): Int
}
enum Order { NEWEST OLDEST }
"""
Directs the executor to include this field or fragment only when the `if` argument is true.
"""
directive @include(if: Boolean!) on FIELD | FRAGMENT_SPREAD | INLINE_FRAGMENT
directive @skip(if: Boolean!) on FIELD | FRAGMENT_SPREAD | INLINE_FRAGMENT
directive @specifiedBy(url: String!) on SCALAR
schema {
	query: Query
}
"#;

/// The same schema as graphql-js's `printSchema` writes it (async-graphql's introspection
/// gives every schema this description).
const PRINTED: &str = r#"
"""
A GraphQL Schema defines the capabilities of a GraphQL server. It exposes all available types and directives on the server, as well as the entry points for query, mutation, and subscription operations.
"""
schema {
  query: Query
}

"""A collage item."""
input CollageItemInput {
  scale: Float! = 1
  tags: [String!]! = []
}

type Query {
  collages(first: Int! = 8, orderBy: Order! = NEWEST, item: CollageItemInput): Int
}

enum Order {
  NEWEST
  OLDEST
}
"#;

#[test]
fn a_schema_as_async_graphql_exports_it_and_as_graphql_js_prints_it_has_no_changes() {
    assert_changes(EXPORTED, PRINTED, &[]);
    assert_changes(PRINTED, EXPORTED, &[]);
}

#[test]
fn a_specified_directive_defined_on_one_side_only_is_no_change() {
    let defined = "type Query { a: Int } directive @deprecated(reason: String) on FIELD_DEFINITION \
                   directive @oneOf on INPUT_OBJECT directive @skip(if: Boolean!) on FIELD";
    assert_changes(defined, "type Query { a: Int }", &[]);
    assert_changes("type Query { a: Int }", defined, &[]);
}

#[test]
fn a_directive_only_the_schema_can_carry_is_compared_only_when_both_sides_define_it() {
    // Introspection lists no annotation directive: the cost specification's, defined and
    // applied in the published SDL, are not in what graphql-js prints from it.
    let annotated = "type Query { a: [Int] @listSize(assumedSize: 3) @cost(weight: 2) } \
                     directive @cost(weight: Int!) on FIELD_DEFINITION | OBJECT \
                     directive @listSize(assumedSize: Int) on FIELD_DEFINITION";
    assert_changes(annotated, "type Query { a: [Int] }", &[]);
    assert_changes("type Query { a: [Int] }", annotated, &[]);
    let fewer = annotated.replace("| OBJECT", "");
    assert_changes(
        annotated,
        &fewer,
        &["BREAKING  @cost: location OBJECT removed"],
    );
    // One location an operation may use makes a directive part of the operations' contract.
    assert_changes(
        "type Query { a: Int } directive @x on FIELD_DEFINITION | FIELD",
        "type Query { a: Int }",
        &["BREAKING  @x: directive removed"],
    );
}

#[test]
fn a_specified_directive_defined_on_both_sides_is_compared() {
    assert_changes(
        "directive @skip(if: Boolean!) on FIELD | FRAGMENT_SPREAD",
        "directive @skip(if: Boolean!, unless: Boolean!) on FIELD",
        &[
            "BREAKING  @skip: required argument unless added",
            "BREAKING  @skip: location FRAGMENT_SPREAD removed",
        ],
    );
}

#[test]
fn a_directive_the_spec_does_not_define_is_still_removed_and_added() {
    assert_changes(
        "directive @cached on FIELD | FIELD_DEFINITION directive @Skip on FIELD",
        "directive @cacheControl on QUERY | FIELD_DEFINITION",
        &[
            "BREAKING  @Skip: directive removed",
            "BREAKING  @cached: directive removed",
            "SAFE      @cacheControl: directive added",
        ],
    );
}

#[test]
fn defaults_that_are_the_same_value_written_differently_are_no_change() {
    let old = r#"
        type Query {
            a(x: Float = 1.0, y: Float = 2.50, z: Float = 100): Int
            b(id: ID = "7", ids: [ID] = ["1", 2], tags: [String] = "a"): Int
            c(f: Filter = {size: 1, sort: NAME, near: {lat: 1.0, lng: -2}}): Int
            d(s: String = """text""", n: Int = -3, e: [Int!] = null): Int
        }
        input Filter { size: Int = 1 scale: Float! = 1.0 }"#;
    let new = r#"
        type Query {
            a(x: Float = 1, y: Float = 2.5, z: Float = 1e2): Int
            b(id: ID = 7, ids: [ID] = [1, "2"], tags: [String] = ["a"]): Int
            c(f: Filter = {near: {lng: -2.0, lat: 1}, sort: NAME, size: 1.0}): Int
            d(s: String = "text", n: Int = -3, e: [Int!] = null): Int
        }
        input Filter { size: Int = 1 scale: Float! = 1 }"#;
    assert_changes(old, new, &[]);
}

#[test]
fn defaults_that_are_different_values_are_still_dangerous() {
    let old = r#"
        type Query {
            a(x: Float = 1.0, id: ID = "07", s: String = "1", e: Order = NEWEST): Int
            b(f: Filter = {size: 1, tags: ["a", "b"]}, l: [Int] = null): Int
        }
        input Filter { scale: Float! = 1.0 }"#;
    let new = r#"
        type Query {
            a(x: Float = 2, id: ID = 7, s: String = 1, e: Order = "NEWEST"): Int
            b(f: Filter = {size: 1, tags: ["b", "a"]}, l: [Int] = [null]): Int
        }
        input Filter { scale: Float! = 1.5 }"#;
    assert_changes(
        old,
        new,
        &[
            "DANGEROUS Filter.scale: input field default value changed from 1.0 to 1.5",
            "DANGEROUS Query.a: argument x default value changed from 1.0 to 2",
            "DANGEROUS Query.a: argument id default value changed from \"07\" to 7",
            "DANGEROUS Query.a: argument s default value changed from \"1\" to 1",
            "DANGEROUS Query.a: argument e default value changed from NEWEST to \"NEWEST\"",
            "DANGEROUS Query.b: argument f default value changed from \
             {size: 1, tags: [\"a\", \"b\"]} to {size: 1, tags: [\"b\", \"a\"]}",
            "DANGEROUS Query.b: argument l default value changed from null to [null]",
        ],
    );
}

#[test]
fn a_directive_argument_default_is_compared_as_a_value() {
    assert_changes(
        "directive @cost(weight: Float = 1.0, max: Float = 10.0) on FIELD_DEFINITION",
        "directive @cost(weight: Float = 1, max: Float = 20) on FIELD_DEFINITION",
        &["DANGEROUS @cost: argument max default value changed from 10.0 to 20"],
    );
}

#[test]
fn a_schema_description_is_read_and_not_compared() {
    let plain = "schema { query: Query } type Query { a: Int }";
    let described = r#""""The shop."""
                       # graphql-js puts nothing between them; a comment does not count.
                       schema { query: Query } type Query { a: Int }"#;
    let redescribed = r#""The gateway." schema { query: Query } type Query { a: Int }"#;
    assert_changes(plain, described, &[]);
    assert_changes(described, redescribed, &[]);
}

#[test]
fn type_descriptions_beside_a_schema_description_are_still_compared() {
    assert_changes(
        r#""""Old.""" type Query { a: Int } "Root." schema { query: Query }"#,
        r#""Root, described." schema { query: Query } """New.""" type Query { a: Int }"#,
        &["SAFE      Query: description changed"],
    );
}

#[test]
fn only_the_string_directly_before_schema_at_the_top_level_is_blanked() {
    // Strings in a field list, in a comment or before another definition are no schema
    // description, even where `schema` follows.
    let others = r#"
"Q" type Query { schema(x: String = "s" "d" schema: Int): Int }
# "c" schema
"x" type schemas { a: Int }"#;
    let description = "\"\"\"Ro\\\"\"\"t \u{e9}\n\"\"\"\n";
    let sdl = format!("{description}schema {{ query: Query }}{others}");

    // 12 characters (`"""Ro\"""t é`), the line break, 3 characters.
    let blank = format!("{}\n{}\n", " ".repeat(12), " ".repeat(3));
    let expected = format!("{blank}schema {{ query: Query }}{others}");
    assert_eq!(without_schema_description(&sdl), expected);
}

#[test]
fn a_description_on_extend_schema_is_still_invalid_sdl() {
    let sdl = r#"type Query { a: Int } directive @a on SCHEMA "No." extend schema @a"#;
    assert!(parse(sdl, "test").is_err());
    assert!(
        parse(
            "type Query { a: Int } directive @a on SCHEMA extend schema @a",
            "test"
        )
        .is_ok()
    );
}
