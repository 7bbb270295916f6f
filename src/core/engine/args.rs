//! A field's arguments for one level: the document's values with the request's variables
//! put in and the schema's defaults filled in. Validation has checked their types already;
//! a getter that finds another type answers `BAD_USER_INPUT` rather than guessing.

use async_graphql::{Name, Value as ConstValue};

use crate::core::errors::ApiError;

/// The arguments of one field, by name, and what the operation selects below it.
#[derive(Debug, Default)]
pub struct Args {
    pub(crate) values: Vec<(Name, ConstValue)>,
    /// The field names selected below the field, two levels deep (`facets`,
    /// `facets.brands`), so a resolver asks its backend only for what is read.
    pub(crate) selected: std::sync::Arc<[String]>,
}

fn wrong(name: &str, expected: &str) -> ApiError {
    ApiError::BadUserInput(format!("argument {name} must be {expected}"))
}

impl Args {
    /// The value of `name`; absent and null are both `None`.
    pub fn get(&self, name: &str) -> Option<&ConstValue> {
        self.values
            .iter()
            .find(|(n, _)| n.as_str() == name)
            .map(|(_, v)| v)
            .filter(|v| !matches!(v, ConstValue::Null))
    }

    /// An optional `Int`.
    pub fn opt_i32(&self, name: &str) -> Result<Option<i32>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(ConstValue::Number(n)) => n
                .as_i64()
                .and_then(|n| i32::try_from(n).ok())
                .map(Some)
                .ok_or_else(|| wrong(name, "a 32-bit integer")),
            Some(_) => Err(wrong(name, "an integer")),
        }
    }

    /// A required `Int` (or one with a default).
    pub fn i32(&self, name: &str) -> Result<i32, ApiError> {
        self.opt_i32(name)?.ok_or_else(|| wrong(name, "given"))
    }

    /// An optional `String` or `ID`.
    pub fn opt_str(&self, name: &str) -> Result<Option<&str>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(ConstValue::String(s)) => Ok(Some(s)),
            Some(_) => Err(wrong(name, "a string")),
        }
    }

    /// An optional `ID`: a string, or an integer as its digits (the `ID` scalar takes both).
    pub fn opt_id(&self, name: &str) -> Result<Option<String>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(ConstValue::String(s)) => Ok(Some(s.clone())),
            Some(ConstValue::Number(n)) => Ok(Some(n.to_string())),
            Some(_) => Err(wrong(name, "an ID")),
        }
    }

    /// A required `ID`.
    pub fn id(&self, name: &str) -> Result<String, ApiError> {
        self.opt_id(name)?.ok_or_else(|| wrong(name, "given"))
    }

    /// A required `String` or `ID`.
    pub fn str(&self, name: &str) -> Result<&str, ApiError> {
        self.opt_str(name)?.ok_or_else(|| wrong(name, "given"))
    }

    /// An argument of an input type (an input object, an enum), as async-graphql parses it.
    pub fn parse<T: async_graphql::InputType>(&self, name: &str) -> Result<T, ApiError> {
        let value = self
            .values
            .iter()
            .find(|(n, _)| n.as_str() == name)
            .map(|(_, v)| v.clone());
        T::parse(value).map_err(|e| {
            let message = e.into_server_error(async_graphql::Pos::default()).message;
            ApiError::BadUserInput(format!("argument {name}: {message}"))
        })
    }

    /// Whether the operation selects `path` (`facets` or `facets.brands`) below the field.
    pub fn selects(&self, path: &str) -> bool {
        self.selected.iter().any(|s| s == path)
    }

    /// An enum value's name, inline (`POPULAR`) or from a variable (`"POPULAR"`).
    pub fn opt_enum(&self, name: &str) -> Result<Option<&str>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(ConstValue::Enum(e)) => Ok(Some(e.as_str())),
            Some(ConstValue::String(s)) => Ok(Some(s)),
            Some(_) => Err(wrong(name, "an enum value")),
        }
    }
}
