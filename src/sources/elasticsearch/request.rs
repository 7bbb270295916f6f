//! What the gateway sends for a search page, as types that serialize straight into the
//! request's bytes: the query's words and the filters' values are borrowed from the
//! `SearchQuery`, and the rest is constant. Building a `serde_json::Value` first made a map
//! and a string per key, and walking it again to write it was 6% of a search page's CPU.
//!
//! Queries are structured JSON (`multi_match`, `terms`, `range`), so user text never
//! reaches a query-string parser.

use serde::Serialize;
use serde_json::Value;

use crate::protocols::search::{FacetSet, PRICE_BUCKETS, SearchFilter, SearchQuery, SearchSort};

/// Fields of full-text matching and their weights.
const TEXT_FIELDS: [&str; 4] = [
    "name^3",
    "brand_name^2",
    "category_names^1.5",
    "description",
];
/// Most values a term facet returns.
const FACET_SIZE: u32 = 50;
/// Most categories the category facet returns: a search's products span many.
const CATEGORY_FACET_SIZE: u32 = 200;

/// The body of one search page.
#[derive(Serialize)]
pub(super) struct SearchBody<'a> {
    size: u32,
    #[serde(rename = "_source")]
    source: bool,
    track_total_hits: bool,
    query: Query<'a>,
    post_filter: Filter<'a>,
    sort: [SortKey; 2],
    #[serde(skip_serializing_if = "Option::is_none")]
    search_after: Option<&'a [Value]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    aggs: Option<Facets<'a>>,
}

impl<'a> SearchBody<'a> {
    /// The body of `query`'s page: one hit more than asked, which tells whether a next
    /// page exists.
    pub(super) fn of(query: &'a SearchQuery) -> Self {
        Self {
            size: query.first + 1,
            source: false,
            track_total_hits: true,
            query: Query::of(&query.text),
            post_filter: Filter::of(&query.filter, None),
            sort: sort_keys(query.sort),
            search_after: query.after.as_deref(),
            aggs: query
                .facets
                .any()
                .then(|| Facets::of(&query.filter, query.facets)),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "snake_case")]
#[allow(
    clippy::large_enum_variant,
    reason = "one a request, on the stack: boxing would only add an allocation"
)]
enum Query<'a> {
    MatchAll {},
    Bool {
        should: [Should<'a>; 3],
        minimum_should_match: u32,
    },
}

impl<'a> Query<'a> {
    fn of(text: &'a str) -> Self {
        if text.is_empty() {
            return Self::MatchAll {};
        }
        Self::Bool {
            should: [
                // Every word somewhere across the fields ("acme sneakers": brand + name).
                Should::MultiMatch(MultiMatch {
                    query: text,
                    fields: TEXT_FIELDS,
                    kind: "cross_fields",
                    operator: "and",
                    typos: None,
                }),
                // Every word in one field, with typos forgiven.
                Should::MultiMatch(MultiMatch {
                    query: text,
                    fields: TEXT_FIELDS,
                    kind: "best_fields",
                    operator: "and",
                    typos: Some(Typos {
                        fuzziness: "AUTO",
                        prefix_length: 1,
                        max_expansions: 20,
                        lenient: true,
                    }),
                }),
                // Exact phrases in the name rank first.
                Should::MatchPhrase {
                    name: Phrase {
                        query: text,
                        boost: 2,
                    },
                },
            ],
            minimum_should_match: 1,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "snake_case")]
enum Should<'a> {
    MultiMatch(MultiMatch<'a>),
    MatchPhrase { name: Phrase<'a> },
}

#[derive(Serialize)]
struct MultiMatch<'a> {
    query: &'a str,
    fields: [&'static str; 4],
    #[serde(rename = "type")]
    kind: &'static str,
    operator: &'static str,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    typos: Option<Typos>,
}

#[derive(Serialize)]
struct Typos {
    fuzziness: &'static str,
    prefix_length: u32,
    max_expansions: u32,
    lenient: bool,
}

#[derive(Serialize)]
struct Phrase<'a> {
    query: &'a str,
    boost: u32,
}

/// `{"bool": {"filter": [...]}}`.
#[derive(Serialize)]
struct Filter<'a> {
    bool: Clauses<'a>,
}

#[derive(Serialize)]
struct Clauses<'a> {
    filter: Vec<Clause<'a>>,
}

/// The filters that a facet may leave out (its own).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Facet {
    Brand,
    Category,
    Color,
    Price,
}

impl<'a> Filter<'a> {
    /// The clauses of `filter`, leaving out `except`'s own.
    fn of(filter: &'a SearchFilter, except: Option<Facet>) -> Self {
        let mut clauses = Vec::new();
        let asked = |facet: Facet| except != Some(facet);
        if !filter.brand_ids.is_empty() && asked(Facet::Brand) {
            clauses.push(Clause::Terms(Terms::BrandId(&filter.brand_ids)));
        }
        if !filter.category_ids.is_empty() && asked(Facet::Category) {
            clauses.push(Clause::Terms(Terms::CategoryIds(&filter.category_ids)));
        }
        if !filter.shop_ids.is_empty() {
            clauses.push(Clause::Terms(Terms::ShopId(&filter.shop_ids)));
        }
        if !filter.colors.is_empty() && asked(Facet::Color) {
            clauses.push(Clause::Terms(Terms::Color(&filter.colors)));
        }
        if (filter.min_price.is_some() || filter.max_price.is_some()) && asked(Facet::Price) {
            clauses.push(Clause::Range {
                price: Bounds {
                    gte: filter.min_price,
                    lte: filter.max_price,
                },
            });
        }
        if let Some(on_sale) = filter.on_sale {
            clauses.push(Clause::Term { on_sale });
        }
        Self {
            bool: Clauses { filter: clauses },
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "snake_case")]
enum Clause<'a> {
    Terms(Terms<'a>),
    Range { price: Bounds },
    Term { on_sale: bool },
}

#[derive(Serialize)]
#[serde(rename_all = "snake_case")]
enum Terms<'a> {
    BrandId(&'a [i32]),
    CategoryIds(&'a [i32]),
    ShopId(&'a [i32]),
    Color(&'a [String]),
}

#[derive(Serialize)]
struct Bounds {
    #[serde(skip_serializing_if = "Option::is_none")]
    gte: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    lte: Option<i64>,
}

/// A sort key and its direction; each order ends in a tie-breaker on the id.
#[derive(Serialize)]
#[serde(rename_all = "snake_case")]
enum SortKey {
    #[serde(rename = "_score")]
    Score(&'static str),
    Price(&'static str),
    CreatedAt(&'static str),
    LikeCount(&'static str),
    Id(&'static str),
}

fn sort_keys(sort: SearchSort) -> [SortKey; 2] {
    match sort {
        SearchSort::Relevance => [SortKey::Score("desc"), SortKey::Id("asc")],
        SearchSort::PriceAsc => [SortKey::Price("asc"), SortKey::Id("asc")],
        SearchSort::PriceDesc => [SortKey::Price("desc"), SortKey::Id("asc")],
        SearchSort::Newest => [SortKey::CreatedAt("desc"), SortKey::Id("desc")],
        SearchSort::Popular => [SortKey::LikeCount("desc"), SortKey::Id("asc")],
    }
}

/// The facets asked for, each aggregated under every filter but its own (faceted
/// navigation: choosing a brand still shows the other brands' counts).
#[derive(Serialize)]
struct Facets<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    brands: Option<Faceted<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    categories: Option<Faceted<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    colors: Option<Faceted<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    prices: Option<Faceted<'a>>,
}

impl<'a> Facets<'a> {
    fn of(filter: &'a SearchFilter, facets: FacetSet) -> Self {
        let under = |asked: bool, facet: Facet, values: Aggregation| {
            asked.then(|| Faceted {
                filter: Filter::of(filter, Some(facet)),
                aggs: Values { values },
            })
        };
        let terms = |field, size| Aggregation::Terms { field, size };
        let ranges = PRICE_BUCKETS.map(|(from, to)| Bucket { from, to });
        Self {
            brands: under(facets.brands, Facet::Brand, terms("brand_id", FACET_SIZE)),
            categories: under(
                facets.categories,
                Facet::Category,
                terms("category_ids", CATEGORY_FACET_SIZE),
            ),
            colors: under(facets.colors, Facet::Color, terms("color", FACET_SIZE)),
            prices: under(
                facets.price_ranges,
                Facet::Price,
                Aggregation::Range {
                    field: "price",
                    ranges,
                },
            ),
        }
    }
}

#[derive(Serialize)]
struct Faceted<'a> {
    filter: Filter<'a>,
    aggs: Values,
}

#[derive(Serialize)]
struct Values {
    values: Aggregation,
}

#[derive(Serialize)]
#[serde(rename_all = "snake_case")]
enum Aggregation {
    Terms {
        field: &'static str,
        size: u32,
    },
    Range {
        field: &'static str,
        ranges: [Bucket; PRICE_BUCKETS.len()],
    },
}

#[derive(Serialize)]
struct Bucket {
    #[serde(skip_serializing_if = "Option::is_none")]
    from: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    to: Option<i64>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn query(text: &str, filter: SearchFilter, facets: FacetSet) -> SearchQuery {
        SearchQuery {
            text: text.to_owned(),
            filter,
            sort: SearchSort::PriceAsc,
            first: 24,
            after: Some(vec![json!(1250), json!(7)]),
            facets,
        }
    }

    #[test]
    fn a_search_body_is_the_query_dsl_elasticsearch_reads() {
        let filter = SearchFilter {
            brand_ids: vec![3, 4],
            colors: vec!["red".to_owned()],
            min_price: Some(1000),
            on_sale: Some(true),
            ..SearchFilter::default()
        };
        let facets = FacetSet {
            brands: true,
            price_ranges: true,
            ..FacetSet::default()
        };
        let asked = query("red \"dress\"", filter, facets);
        let body = serde_json::to_value(SearchBody::of(&asked)).unwrap();
        let brand = json!({ "terms": { "brand_id": [3, 4] } });
        let color = json!({ "terms": { "color": ["red"] } });
        let price = json!({ "range": { "price": { "gte": 1000 } } });
        let on_sale = json!({ "term": { "on_sale": true } });
        let fields = json!([
            "name^3",
            "brand_name^2",
            "category_names^1.5",
            "description"
        ]);
        let ranges: Vec<Value> = PRICE_BUCKETS
            .iter()
            .map(|(from, to)| match (from, to) {
                (Some(from), Some(to)) => json!({ "from": from, "to": to }),
                (Some(from), None) => json!({ "from": from }),
                (None, Some(to)) => json!({ "to": to }),
                (None, None) => json!({}),
            })
            .collect();
        let expected = json!({
            "size": 25,
            "_source": false,
            "track_total_hits": true,
            "query": { "bool": {
                "should": [
                    { "multi_match": {
                        "query": "red \"dress\"", "fields": fields, "type": "cross_fields",
                        "operator": "and"
                    } },
                    { "multi_match": {
                        "query": "red \"dress\"", "fields": fields, "type": "best_fields",
                        "operator": "and", "fuzziness": "AUTO", "prefix_length": 1,
                        "max_expansions": 20, "lenient": true
                    } },
                    { "match_phrase": { "name": { "query": "red \"dress\"", "boost": 2 } } }
                ],
                "minimum_should_match": 1
            } },
            "post_filter": { "bool": { "filter": [brand, color, price, on_sale] } },
            "sort": [{ "price": "asc" }, { "id": "asc" }],
            "search_after": [1250, 7],
            "aggs": {
                "brands": {
                    "filter": { "bool": { "filter": [color, price, on_sale] } },
                    "aggs": { "values": { "terms": { "field": "brand_id", "size": 50 } } }
                },
                "prices": {
                    "filter": { "bool": { "filter": [brand, color, on_sale] } },
                    "aggs": { "values": { "range": { "field": "price", "ranges": ranges } } }
                }
            }
        });
        assert_eq!(body, expected);
    }

    #[test]
    fn no_text_matches_everything_and_no_facets_aggregate_nothing() {
        let mut asked = query("", SearchFilter::default(), FacetSet::default());
        asked.after = None;
        asked.sort = SearchSort::Newest;
        let body = serde_json::to_value(SearchBody::of(&asked)).unwrap();
        assert_eq!(body["query"], json!({ "match_all": {} }));
        assert_eq!(body["post_filter"], json!({ "bool": { "filter": [] } }));
        assert_eq!(
            body["sort"],
            json!([{ "created_at": "desc" }, { "id": "desc" }])
        );
        assert!(body.get("search_after").is_none() && body.get("aggs").is_none());
    }
}
