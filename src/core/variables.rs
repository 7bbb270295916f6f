//! Whether a request's variable values leave nothing for validation to say, so an operation
//! validated once runs again without being validated again (see `Api::execute_in_scope`).
//!
//! Of everything async-graphql's validation checks, one rule reads variable values: an
//! argument whose value holds a variable is checked with the value sent for it
//! (`ArgumentsOfCorrectType`). All the rest is the document's alone, and the document has
//! passed already. `fit` is a stricter copy of that one check, against each variable's
//! declared type (which validation has found allowed where the variable is used): when it
//! says yes, validation would have passed; when it says no, the request is validated in
//! full, which reports exactly what is wrong. To stay on the strict side it refuses what it
//! need not judge: a null anywhere, a one-of input, a type it does not know.

use async_graphql::parser::types::OperationDefinition;
use async_graphql::registry::{MetaType, MetaTypeName, Registry};
use async_graphql::{Value as ConstValue, Variables};

/// Whether every variable value sent for `operation` is one of its declared type.
pub(crate) fn fit(
    registry: &Registry,
    operation: &OperationDefinition,
    variables: &Variables,
) -> bool {
    operation.variable_definitions.iter().all(|definition| {
        let definition = &definition.node;
        // A variable not sent is not checked by validation either.
        variables
            .get(&definition.name.node)
            .is_none_or(|value| fits(registry, &definition.var_type.node.to_string(), value))
    })
}

/// Whether `value` is of the type written `ty` (as in `[Int!]!`), with no null in it.
fn fits(registry: &Registry, ty: &str, value: &ConstValue) -> bool {
    match MetaTypeName::create(ty) {
        MetaTypeName::NonNull(inner) => fits(registry, inner, value),
        MetaTypeName::List(item) => match value {
            ConstValue::List(items) => items.iter().all(|v| fits(registry, item, v)),
            // One value where a list is expected is coerced to a list of it.
            single => fits(registry, item, single),
        },
        MetaTypeName::Named(name) => match (registry.types.get(name), value) {
            (_, ConstValue::Null) | (None, _) => false,
            (Some(MetaType::Scalar { is_valid, .. }), value) => {
                is_valid.as_ref().is_none_or(|valid| valid(value))
            }
            (Some(MetaType::Enum { enum_values, .. }), ConstValue::Enum(v)) => {
                enum_values.contains_key(v.as_str())
            }
            (Some(MetaType::Enum { enum_values, .. }), ConstValue::String(v)) => {
                enum_values.contains_key(v.as_str())
            }
            (
                Some(MetaType::InputObject {
                    input_fields,
                    oneof: false,
                    ..
                }),
                ConstValue::Object(values),
            ) => {
                values
                    .keys()
                    .all(|key| input_fields.contains_key(key.as_str()))
                    && input_fields
                        .values()
                        .all(|field| match values.get(field.name.as_str()) {
                            Some(value) => fits(registry, &field.ty, value),
                            None => {
                                field.default_value.is_some()
                                    || !MetaTypeName::create(&field.ty).is_non_null()
                            }
                        })
            }
            _ => false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::ApiConfig;

    /// Whether the variables `json` fit operation `query` of the declared schema.
    fn fits_json(query: &str, json: serde_json::Value) -> bool {
        let (schema, _) = crate::core::declared_schema(crate::core::MODULES, &ApiConfig::default())
            .expect("the schema");
        let document = async_graphql::parser::parse_query(query).expect("parses");
        let operation = crate::core::document::operation(&document, None).expect("one operation");
        fit(schema.registry(), operation, &Variables::from_json(json))
    }

    const SEARCH: &str = "query S($q: String, $first: Int, $sort: ProductSort!, \
        $filter: ProductFilter, $ids: [ID!]) { searchProducts(query: $q, first: $first, sort: $sort, \
        filter: $filter) { totalCount } a: nodes(ids: $ids) { id } }";

    #[test]
    fn values_of_their_declared_types_fit() {
        let sent = serde_json::json!({
            "q": "red dress", "first": 8, "sort": "PRICE_ASC",
            "filter": { "brandIds": ["QnJhbmQ6MQ=="], "price": { "min": 100 } },
            "ids": ["UHJvZHVjdDox", "UHJvZHVjdDoy"],
        });
        assert!(fits_json(SEARCH, sent));
        // Variables not sent are left to the engine, as validation leaves them.
        assert!(fits_json(SEARCH, serde_json::json!({ "sort": "NEWEST" })));
        // One value where a list is expected is a list of it.
        assert!(fits_json(
            SEARCH,
            serde_json::json!({ "sort": "NEWEST", "ids": "UHJvZHVjdDox" })
        ));
    }

    #[test]
    fn values_validation_would_refuse_do_not_fit() {
        for (case, sent) in [
            (
                "a string for an Int",
                serde_json::json!({ "sort": "NEWEST", "first": "8" }),
            ),
            (
                "a value no enum has",
                serde_json::json!({ "sort": "CHEAPEST" }),
            ),
            ("a number for an enum", serde_json::json!({ "sort": 1 })),
            (
                "an unknown input field",
                serde_json::json!({ "sort": "NEWEST", "filter": { "brand": 1 } }),
            ),
            (
                "a list for an input object",
                serde_json::json!({ "sort": "NEWEST", "filter": [] }),
            ),
            (
                "a wrong type inside an input",
                serde_json::json!({ "sort": "NEWEST", "filter": { "price": { "min": "x" } } }),
            ),
            (
                "an object for a list item",
                serde_json::json!({ "sort": "NEWEST", "ids": [{}] }),
            ),
        ] {
            assert!(!fits_json(SEARCH, sent), "{case}");
        }
    }

    #[test]
    fn nulls_are_left_to_validation() {
        // Validation accepts a null for a nullable variable only where the argument is
        // nullable too; rather than follow the variable to each use, a null never fits.
        assert!(!fits_json(
            SEARCH,
            serde_json::json!({ "sort": "NEWEST", "first": null })
        ));
        assert!(!fits_json(SEARCH, serde_json::json!({ "sort": null })));
        assert!(!fits_json(
            SEARCH,
            serde_json::json!({ "sort": "NEWEST", "ids": ["UHJvZHVjdDox", null] })
        ));
    }
}
