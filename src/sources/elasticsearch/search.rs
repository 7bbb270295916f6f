//! `SearchSource` over Elasticsearch. A search page's body is built by `request`, as
//! structured JSON, so user text never reaches a query-string parser; facets follow faceted
//! navigation (the filters go to `post_filter`, and each facet aggregates under every filter
//! but its own). Answers are read by `answers`.

use std::collections::HashMap;
use std::time::Instant;

use axum::body::Bytes;
use elasticsearch::http::headers::{HeaderName, HeaderValue};
use elasticsearch::http::request::{Body, JsonBody};
use elasticsearch::http::response::Response;
use elasticsearch::{Msearch, MsearchParts, Search, SearchParts};
use serde::Serialize;
use serde_json::{Value, json};

use super::answers::{self, Failed, Hit, MultiAnswer, SearchAnswer, SuggestAnswer};
use super::request::SearchBody;
use super::{BACKEND, Elasticsearch, map_error};
use crate::observe::{self, Backend};
use crate::protocols::SourceError;
use crate::protocols::search::{
    FacetValue, Facets, PriceBucket, SearchHit, SearchPage, SearchQuery, SearchSource, Suggestion,
    SuggestionKind,
};

/// What each answer keeps (`filter_path`): only the parts read below, so the cluster
/// serialises and the gateway parses no scores, shard counts or index names. Elasticsearch
/// leaves out an empty list (no hits) and answers errors whole.
const SEARCH_KEEPS: &[&str] = &[
    "hits.total.value",
    "hits.hits._id",
    "hits.hits.sort",
    "aggregations",
];
/// An `_msearch` answer keeps each search's status, so the answers stay one per search.
const SIMILAR_KEEPS: &[&str] = &[
    "responses.status",
    "responses.error",
    "responses.hits.hits._id",
];
const SUGGEST_KEEPS: &[&str] = &["suggest.*.options.text", "suggest.*.options._source"];

/// Product search over one alias.
#[derive(Clone)]
pub struct ElasticsearchSearch {
    es: Elasticsearch,
    index: String,
}

/// Requests carry the `traceparent` of the request being served, so a trace continues into
/// Elasticsearch (its APM integration reads it).
trait Traced: Sized {
    fn with_header(self, name: HeaderName, value: HeaderValue) -> Self;

    fn traced(self) -> Self {
        match observe::current_traceparent().and_then(|v| HeaderValue::from_str(&v).ok()) {
            Some(value) => self.with_header(HeaderName::from_static("traceparent"), value),
            None => self,
        }
    }
}

impl<B: Body> Traced for Search<'_, '_, B> {
    fn with_header(self, name: HeaderName, value: HeaderValue) -> Self {
        self.header(name, value)
    }
}

impl<B: Body> Traced for Msearch<'_, '_, B> {
    fn with_header(self, name: HeaderName, value: HeaderValue) -> Self {
        self.header(name, value)
    }
}

impl ElasticsearchSearch {
    /// Search over `index` (the alias) of the cluster `es`.
    pub fn new(es: Elasticsearch, index: &str) -> Self {
        Self {
            es,
            index: index.to_owned(),
        }
    }

    /// Sends `request` (built, not sent yet) through the guard (a hung cluster fails
    /// searches fast once the breaker opens), and reads its answer.
    async fn send(
        &self,
        described: Option<String>,
        request: impl std::future::Future<Output = Result<Response, elasticsearch::Error>>,
    ) -> Result<Bytes, SourceError> {
        let call = async {
            let sent = self.es.count_request();
            let response = request.await;
            self.read(sent, described, response).await
        };
        self.es.guard().call(call).await
    }

    /// Reads the answer of a request sent at `sent` (see `Elasticsearch::count_request`) and
    /// reports the call.
    /// `described` is what was sent, for a request that keeps an explain.
    async fn read(
        &self,
        sent: Instant,
        described: Option<String>,
        response: Result<Response, elasticsearch::Error>,
    ) -> Result<Bytes, SourceError> {
        let result = self.read_body(response).await;
        observe::backend_call(Backend::Elasticsearch, sent, result.is_ok(), || {
            described.unwrap_or_default()
        });
        result
    }

    /// What a request of `body` to `endpoint` of the index sends, when the request being
    /// served keeps an explain.
    fn describe<'a, T: Serialize + 'a>(
        &self,
        endpoint: &str,
        body: impl IntoIterator<Item = &'a T>,
    ) -> Option<String> {
        observe::explaining().then(|| {
            let lines: Vec<String> = (body.into_iter())
                .map(|line| serde_json::to_string(line).unwrap_or_default())
                .collect();
            format!("POST /{}/{endpoint}\n{}", self.index, lines.join("\n"))
        })
    }

    /// The bytes of a successful answer; a failed one is an error that quotes its `error`.
    async fn read_body(
        &self,
        response: Result<Response, elasticsearch::Error>,
    ) -> Result<Bytes, SourceError> {
        let response = response.map_err(|e| map_error(e, self.es.timeout()))?;
        let status = response.status_code();
        let body = response
            .bytes()
            .await
            .map_err(|e| map_error(e, self.es.timeout()))?;
        if status.is_success() {
            return Ok(body);
        }
        let error = match serde_json::from_slice::<Failed>(&body) {
            Ok(failed) => failed.error.to_string(),
            Err(_) => String::from_utf8_lossy(&body).into_owned(),
        };
        let detail = format!("{status}: {error}");
        if status.is_client_error() && status.as_u16() != 404 && status.as_u16() != 429 {
            // A 400 means our query was wrong: a fault of the gateway.
            Err(SourceError::Contract {
                backend: BACKEND,
                detail,
            })
        } else {
            Err(SourceError::Backend {
                backend: BACKEND,
                detail,
            })
        }
    }
}

fn contract(detail: impl Into<String>) -> SourceError {
    SourceError::Contract {
        backend: BACKEND,
        detail: detail.into(),
    }
}

/// The products of `hits`, with their sort values.
fn read_hits(hits: Vec<Hit<'_>>) -> Result<Vec<SearchHit>, SourceError> {
    hits.into_iter()
        .map(|hit| {
            let product_id = hit
                .id
                .parse()
                .map_err(|_| contract(format!("hit without a numeric _id: {:?}", hit.id)))?;
            Ok(SearchHit {
                product_id,
                sort: hit.sort,
            })
        })
        .collect()
}

fn term_counts<K, V>(
    aggregation: Option<answers::Filtered<answers::Term<K>>>,
    value: impl Fn(K) -> V,
) -> Vec<FacetValue<V>> {
    aggregation
        .map(|filtered| {
            filtered
                .values
                .buckets
                .into_iter()
                .map(|bucket| FacetValue {
                    value: value(bucket.key),
                    count: bucket.doc_count,
                })
                .collect()
        })
        .unwrap_or_default()
}

fn read_facets(aggregations: answers::Aggregations) -> Facets {
    let price_ranges = aggregations
        .prices
        .map(|filtered| {
            filtered
                .values
                .buckets
                .into_iter()
                .map(|bucket| PriceBucket {
                    min: bucket.from.map(|v| v as i64),
                    max: bucket.to.map(|v| v as i64),
                    count: bucket.doc_count,
                })
                .collect()
        })
        .unwrap_or_default();
    Facets {
        brands: term_counts(aggregations.brands, |id| id as i32),
        categories: term_counts(aggregations.categories, |id| id as i32),
        colors: term_counts(aggregations.colors, |color| color),
        price_ranges,
    }
}

/// The page of `query` in a search answer `body`.
fn read_search(body: &[u8], query: &SearchQuery) -> Result<SearchPage, SourceError> {
    let answer: SearchAnswer = answers::parse(body, "a search")?;
    let total = answer
        .hits
        .total
        .ok_or_else(|| contract("hits.total.value missing"))?
        .value;
    let mut hits = read_hits(answer.hits.hits)?;
    let has_next_page = hits.len() > query.first as usize;
    hits.truncate(query.first as usize);
    let facets = query
        .facets
        .any()
        .then(|| answer.aggregations.map(read_facets).unwrap_or_default());
    Ok(SearchPage {
        hits,
        has_next_page,
        total,
        facets,
    })
}

#[async_trait::async_trait]
impl SearchSource for ElasticsearchSearch {
    async fn search(&self, query: &SearchQuery) -> Result<SearchPage, SourceError> {
        let body = SearchBody::of(query);
        let described = self.describe("_search", [&body]);
        let index = [self.index.as_str()];
        let request = self
            .es
            .client()
            .search(SearchParts::Index(&index))
            .filter_path(SEARCH_KEEPS)
            .request_timeout(self.es.timeout())
            .traced()
            .body(body)
            .send();
        let body = self.send(described, request).await?;
        read_search(&body, query)
    }

    async fn similar(
        &self,
        keys: &[(i32, u32)],
    ) -> Result<HashMap<(i32, u32), Vec<i32>>, SourceError> {
        if keys.is_empty() {
            return Ok(HashMap::new());
        }
        let mut lines: Vec<Value> = Vec::with_capacity(keys.len() * 2);
        for (id, first) in keys {
            lines.push(json!({}));
            lines.push(
                // Name, brand and category say what a product is; descriptions are long and
                // generic, and matching them cost 4x the time on 100k products for no better
                // neighbours (36 ms against 9 ms a query, measured on this machine).
                json!({
                    "size": first,
                    "_source": false,
                    "track_total_hits": false,
                    "query": { "more_like_this": {
                        "fields": ["name", "brand_name", "category_names"],
                        "like": [{ "_index": self.index, "_id": id.to_string() }],
                        "min_term_freq": 1, "min_doc_freq": 2, "max_query_terms": 12
                    } }
                }),
            );
        }
        let described = self.describe("_msearch", &lines);
        let lines: Vec<JsonBody<Value>> = lines.into_iter().map(JsonBody::from).collect();
        let index = [self.index.as_str()];
        let request = self
            .es
            .client()
            .msearch(MsearchParts::Index(&index))
            .filter_path(SIMILAR_KEEPS)
            .request_timeout(self.es.timeout())
            .traced()
            .body(lines)
            .send();
        let body = self.send(described, request).await?;
        let answer: MultiAnswer = answers::parse(&body, "a search of similar products")?;
        if answer.responses.len() != keys.len() {
            return Err(contract("msearch answered a different number of searches"));
        }
        keys.iter()
            .zip(answer.responses)
            .map(|(key, response)| {
                if let Some(error) = response.error {
                    return Err(SourceError::Backend {
                        backend: BACKEND,
                        detail: format!("similar products of {}: {error}", key.0),
                    });
                }
                let hits = response.hits.map(|hits| hits.hits).unwrap_or_default();
                let ids = read_hits(hits)?
                    .into_iter()
                    .map(|hit| hit.product_id)
                    .collect();
                Ok((*key, ids))
            })
            .collect()
    }

    async fn suggest(&self, prefix: &str, size: u32) -> Result<Vec<Suggestion>, SourceError> {
        let completion = |field: &str| {
            json!({ "prefix": prefix, "completion": {
                "field": field, "size": size, "skip_duplicates": true, "fuzzy": false
            } })
        };
        let body = json!({
            "size": 0,
            "_source": ["id", "brand_id"],
            "suggest": {
                "brands": completion("brand_suggest"),
                "products": completion("suggest")
            }
        });
        let described = self.describe("_search", [&body]);
        let index = [self.index.as_str()];
        let request = self
            .es
            .client()
            .search(SearchParts::Index(&index))
            .filter_path(SUGGEST_KEEPS)
            .request_timeout(self.es.timeout())
            .traced()
            .body(body)
            .send();
        let body = self.send(described, request).await?;
        let answer: SuggestAnswer = answers::parse(&body, "a suggestion")?;
        let mut suggestions = Vec::new();
        for (kind, completions) in [
            (SuggestionKind::Brand, answer.suggest.brands),
            (SuggestionKind::Product, answer.suggest.products),
        ] {
            let options = completions.into_iter().next().map(|c| c.options);
            for option in options.unwrap_or_default() {
                let id = match kind {
                    SuggestionKind::Brand => option.source.brand_id,
                    SuggestionKind::Product => option.source.id,
                };
                let Some(id) = id else {
                    return Err(contract(format!(
                        "suggestion without an id: {}",
                        option.text
                    )));
                };
                suggestions.push(Suggestion {
                    text: option.text.into_owned(),
                    kind,
                    id: id as i32,
                });
            }
        }
        Ok(suggestions)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocols::search::{FacetSet, SearchFilter, SearchSort};

    fn query(facets: FacetSet) -> SearchQuery {
        SearchQuery {
            text: "dress".to_owned(),
            filter: SearchFilter::default(),
            sort: SearchSort::Relevance,
            first: 24,
            after: None,
            facets,
        }
    }

    #[test]
    fn a_search_answer_is_read_into_its_page_and_facets() {
        let answer = json!({
            "hits": {
                "total": { "value": 3 },
                "hits": [
                    { "_id": "7", "sort": [12.5, 7] },
                    { "_id": "9", "sort": [13.0, 9] },
                ]
            },
            "aggregations": {
                "brands": { "doc_count": 3, "values": { "buckets": [
                    { "key": 4, "doc_count": 2 }, { "key": 5, "doc_count": 1 }
                ] } },
                "colors": { "doc_count": 3, "values": { "buckets": [
                    { "key": "bläu", "doc_count": 3 }
                ] } },
                "prices": { "doc_count": 3, "values": { "buckets": [
                    { "key": "*-50.0", "to": 50.0, "doc_count": 1 },
                    { "key": "50.0-*", "from": 50.0, "doc_count": 2 }
                ] } }
            }
        });
        let mut asked = query(FacetSet::ALL);
        asked.first = 1;
        let page = read_search(answer.to_string().as_bytes(), &asked).unwrap();
        assert_eq!(page.total, 3);
        assert!(page.has_next_page);
        assert_eq!(page.hits.len(), 1);
        assert_eq!(page.hits[0].product_id, 7);
        assert_eq!(page.hits[0].sort, [json!(12.5), json!(7)]);
        let facets = page.facets.unwrap();
        let brands: Vec<(i32, i64)> = facets.brands.iter().map(|v| (v.value, v.count)).collect();
        assert_eq!(brands, [(4, 2), (5, 1)]);
        assert!(facets.categories.is_empty(), "not in the answer");
        assert_eq!(facets.colors[0].value, "bläu");
        let prices: Vec<_> = (facets.price_ranges.iter())
            .map(|b| (b.min, b.max, b.count))
            .collect();
        assert_eq!(prices, [(None, Some(50), 1), (Some(50), None, 2)]);
    }

    #[test]
    fn an_answer_of_another_shape_is_a_contract_error() {
        for answer in [
            json!({ "hits": { "hits": [] } }),
            json!({ "hits": { "total": { "value": 1 }, "hits": { "_id": "1" } } }),
            json!({ "hits": { "total": { "value": 1 }, "hits": [{ "_id": "x1" }] } }),
            json!({ "hits": { "total": { "value": 1 }, "hits": [{ "_id": 1 }] } }),
            json!({ "hits": { "total": { "value": 0 } }, "aggregations": {
                "brands": { "values": { "buckets": [{ "key": "a", "doc_count": 1 }] } }
            } }),
            json!([]),
        ] {
            let error = read_search(answer.to_string().as_bytes(), &query(FacetSet::ALL));
            assert!(
                matches!(error, Err(SourceError::Contract { .. })),
                "{answer}: {error:?}"
            );
        }
        let nothing_matched = json!({ "hits": { "total": { "value": 0 } } });
        let page = read_search(
            nothing_matched.to_string().as_bytes(),
            &query(FacetSet::ALL),
        );
        let page = page.unwrap();
        assert!(page.hits.is_empty() && !page.has_next_page);
        assert_eq!(page.facets.unwrap(), Facets::default());
    }

    #[test]
    fn a_search_aggregates_only_the_facets_asked_for() {
        let brands_and_colors = FacetSet {
            brands: true,
            colors: true,
            ..FacetSet::default()
        };
        let body = |facets| {
            let asked = query(facets);
            serde_json::to_value(SearchBody::of(&asked)).unwrap()
        };
        let mut names: Vec<String> = body(brands_and_colors)["aggs"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        names.sort();
        assert_eq!(names, ["brands", "colors"]);

        assert_eq!(body(FacetSet::ALL)["aggs"].as_object().unwrap().len(), 4);
        assert!(body(FacetSet::default()).get("aggs").is_none());
    }
}
