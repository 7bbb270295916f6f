//! What the gateway reads of Elasticsearch's answers, as types: serde reads these fields
//! straight from the answer's bytes and skips the rest, and ids are borrowed from those
//! bytes. A `serde_json::Value` would build a map per object and a string per key first.
//!
//! An answer that does not have the shape below is the cluster breaking its contract with
//! the gateway (see `parse`).

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::Value;

use crate::protocols::SourceError;

use super::BACKEND;

/// Reads `body` as `T`; an answer of another shape is a contract error that says where.
pub(super) fn parse<'a, T: Deserialize<'a>>(body: &'a [u8], what: &str) -> Result<T, SourceError> {
    serde_json::from_slice(body).map_err(|error| SourceError::Contract {
        backend: BACKEND,
        detail: format!("{what} answered in an unexpected shape: {error}"),
    })
}

/// The `error` of an answer that failed, whatever its shape.
#[derive(Deserialize)]
pub(super) struct Failed {
    #[serde(default)]
    pub error: Value,
}

/// A `_search` answer filtered by `SEARCH_KEEPS`.
#[derive(Deserialize)]
pub(super) struct SearchAnswer<'a> {
    #[serde(borrow)]
    pub hits: Hits<'a>,
    #[serde(default)]
    pub aggregations: Option<Aggregations>,
}

/// `hits`: Elasticsearch leaves out `hits.hits` when nothing matched.
#[derive(Deserialize)]
pub(super) struct Hits<'a> {
    #[serde(default)]
    pub total: Option<Total>,
    #[serde(default, borrow)]
    pub hits: Vec<Hit<'a>>,
}

#[derive(Deserialize)]
pub(super) struct Total {
    pub value: i64,
}

#[derive(Deserialize)]
pub(super) struct Hit<'a> {
    /// A product's id, as the document id (a string of digits).
    #[serde(rename = "_id", borrow)]
    pub id: Cow<'a, str>,
    /// The hit's sort values, when the search was sorted (a cursor goes on from them).
    #[serde(default)]
    pub sort: Vec<Value>,
}

/// The facets' aggregations: each one a filter with its `values` under it.
#[derive(Deserialize)]
pub(super) struct Aggregations {
    pub brands: Option<Filtered<Term<i64>>>,
    pub categories: Option<Filtered<Term<i64>>>,
    pub colors: Option<Filtered<Term<String>>>,
    pub prices: Option<Filtered<Range>>,
}

#[derive(Deserialize)]
pub(super) struct Filtered<B> {
    pub values: Buckets<B>,
}

#[derive(Deserialize)]
pub(super) struct Buckets<B> {
    pub buckets: Vec<B>,
}

/// A bucket of a `terms` aggregation.
#[derive(Deserialize)]
pub(super) struct Term<K> {
    pub key: K,
    pub doc_count: i64,
}

/// A bucket of a `range` aggregation: the ends it was asked with.
#[derive(Deserialize)]
pub(super) struct Range {
    pub from: Option<f64>,
    pub to: Option<f64>,
    pub doc_count: i64,
}

/// An `_msearch` answer filtered by `SIMILAR_KEEPS`: one answer per search, in order.
#[derive(Deserialize)]
pub(super) struct MultiAnswer<'a> {
    #[serde(borrow)]
    pub responses: Vec<OneAnswer<'a>>,
}

#[derive(Deserialize)]
pub(super) struct OneAnswer<'a> {
    #[serde(default)]
    pub error: Option<Value>,
    #[serde(default, borrow)]
    pub hits: Option<Hits<'a>>,
}

/// A completion-suggest answer filtered by `SUGGEST_KEEPS`.
#[derive(Deserialize)]
pub(super) struct SuggestAnswer<'a> {
    #[serde(default, borrow)]
    pub suggest: Suggest<'a>,
}

#[derive(Deserialize, Default)]
pub(super) struct Suggest<'a> {
    #[serde(default, borrow)]
    pub brands: Vec<Completion<'a>>,
    #[serde(default, borrow)]
    pub products: Vec<Completion<'a>>,
}

#[derive(Deserialize)]
pub(super) struct Completion<'a> {
    #[serde(default, borrow)]
    pub options: Vec<Suggested<'a>>,
}

#[derive(Deserialize)]
pub(super) struct Suggested<'a> {
    #[serde(borrow)]
    pub text: Cow<'a, str>,
    #[serde(rename = "_source")]
    pub source: SuggestedSource,
}

/// The two ids a suggestion's document keeps (`_source: ["id", "brand_id"]`).
#[derive(Deserialize)]
pub(super) struct SuggestedSource {
    pub id: Option<i64>,
    pub brand_id: Option<i64>,
}
