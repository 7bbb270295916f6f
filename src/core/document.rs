//! Reading an executable document: which operation a request runs, and default values as
//! the schema writes them.

use async_graphql::parser::types::{ExecutableDocument, OperationDefinition, Selection};
use async_graphql::{Name, Value as ConstValue};

/// Operation `operation_name` of `document`, or its only operation when no name is given;
/// `None` when there is no such operation, or several and no name (validation says why).
pub(crate) fn operation<'d>(
    document: &'d ExecutableDocument,
    operation_name: Option<&str>,
) -> Option<&'d OperationDefinition> {
    let mut operations = document.operations.iter();
    match operation_name {
        Some(name) => operations
            .find(|(n, _)| n.map(Name::as_str) == Some(name))
            .map(|(_, o)| &o.node),
        None => {
            let (_, first) = operations.next()?;
            operations.next().is_none().then_some(&first.node)
        }
    }
}

/// A default value as the schema writes it (a GraphQL literal such as `8` or `NEWEST`).
pub(crate) fn parse_literal(text: &str) -> Option<ConstValue> {
    let document = async_graphql::parser::parse_query(format!("{{ f(v: {text}) }}")).ok()?;
    let (_, operation) = document.operations.iter().next()?;
    let Selection::Field(field) = &operation.node.selection_set.node.items.first()?.node else {
        return None;
    };
    field.node.get_argument("v")?.node.clone().into_const()
}
