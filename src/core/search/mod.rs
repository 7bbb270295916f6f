//! The search module: `searchProducts`, `suggest` and `Product.similar`, over the search
//! source.
//!
//! Hydration: a search returns product ids only; the products come from the catalog loaders
//! (MySQL, one statement per page), and so do their brands, shops and categories. The index
//! is a denormalised copy that lags the data of record by up to a reindex; prices, names and
//! availability shown to users must be current, so nothing shown is read from the search
//! document. A product deleted since the last reindex simply drops out of its page.

mod engine;
mod types;

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::ID;
use serde_json::Value;
use tracing::Instrument;

/// Search: product search with facets, autocomplete and similar products.
pub const MODULE: crate::core::Module = crate::core::Module {
    name: "search",
    sdl: include_str!("schema.graphql"),
    register: engine::register,
    start: crate::core::Module::keeps_nothing,
    prepare: |prepare, ctx| {
        let source = &prepare.sources.search;
        ctx.insert(Arc::new(SearchLoaders::new(
            source,
            prepare.span,
            prepare.window,
        )));
    },
};
pub use types::{PriceRange, ProductFilter, ProductSort};

use super::Sources;
use super::batching::{BatchLoad, Batcher, Window};
use super::errors::{ApiError, ApiResult};
use super::ids::{GlobalId, Kind};
use super::pagination::{PageLimits, decode_cursor, encode_cursor};
use crate::protocols::search::{FacetSet, SearchFilter, SearchQuery as Query, SearchSource};

/// Longest search text accepted, in characters.
const MAX_TEXT: usize = 256;
/// Most values in one filter list.
const MAX_FILTER_VALUES: usize = 100;
/// Most similar products or suggestions one field returns.
const MAX_SMALL_LIST: i32 = 50;
const SEARCH_CURSOR: &str = "search";

/// Similar products by `(product id, how many)`, all of one query level in one request.
pub struct SimilarLoader {
    source: Arc<dyn SearchSource>,
    span: tracing::Span,
}

impl BatchLoad for SimilarLoader {
    type Key = (i32, u32);
    type Value = Vec<i32>;
    type Loaded = Vec<i32>;
    const NAME: &'static str = "Similar";

    async fn load(&self, keys: &[(i32, u32)]) -> Result<HashMap<(i32, u32), Vec<i32>>, ApiError> {
        let load = async { self.source.similar(keys).await.map_err(ApiError::from) };
        load.instrument(self.span.clone()).await
    }
}

/// One request's search loaders.
pub struct SearchLoaders {
    /// Similar products by `(product id, how many)`; one `_msearch` serves a whole level.
    pub similar: Batcher<SimilarLoader>,
}

impl SearchLoaders {
    /// The loaders of one request, batching by `window` and logging under `span`.
    pub fn new(source: &Arc<dyn SearchSource>, span: &tracing::Span, window: Window) -> Self {
        let similar = SimilarLoader {
            source: source.clone(),
            span: span.clone(),
        };
        Self {
            similar: Batcher::new(similar, window),
        }
    }
}

/// The search module's root fields.
/// Checks a client's search arguments and makes the protocol's query of them.
pub(crate) fn search_request(
    query: Option<String>,
    filter: Option<ProductFilter>,
    sort: ProductSort,
    first: Option<i32>,
    after: Option<&str>,
    limits: &PageLimits,
    facets: FacetSet,
) -> ApiResult<Query> {
    let text = query.unwrap_or_default().trim().to_owned();
    if text.chars().count() > MAX_TEXT {
        return Err(ApiError::BadUserInput(format!(
            "query is longer than {MAX_TEXT} characters"
        )));
    }
    Ok(Query {
        text,
        filter: search_filter(filter.unwrap_or_default())?,
        sort: sort.into(),
        first: limits.first(first)?,
        after: after.map(|c| decode_search_cursor(c, sort)).transpose()?,
        facets,
    })
}

/// Checks `suggest`'s arguments: the trimmed prefix and how many, or `None` for no lookup.
pub(crate) fn suggest_request(prefix: &str, first: i32) -> ApiResult<Option<(&str, u32)>> {
    let prefix = prefix.trim();
    if prefix.chars().count() > 100 {
        return Err(ApiError::BadUserInput(
            "prefix is longer than 100 characters".to_owned(),
        ));
    }
    let first = small_list(first)?;
    Ok((!prefix.is_empty() && first != 0).then_some((prefix, first)))
}

fn search_source_of(ctx: &super::engine::Ctx) -> ApiResult<&Arc<dyn SearchSource>> {
    Ok(&ctx.data::<Sources>()?.search)
}

pub(crate) fn small_list(first: i32) -> ApiResult<u32> {
    if (0..=MAX_SMALL_LIST).contains(&first) {
        Ok(first as u32)
    } else {
        Err(ApiError::BadUserInput(format!(
            "first must be between 0 and {MAX_SMALL_LIST}, got {first}"
        )))
    }
}

fn ids_of(ids: Option<Vec<ID>>, kind: Kind, field: &str) -> ApiResult<Vec<i32>> {
    let ids = ids.unwrap_or_default();
    if ids.len() > MAX_FILTER_VALUES {
        return Err(ApiError::BadUserInput(format!(
            "{field} takes at most {MAX_FILTER_VALUES} ids"
        )));
    }
    ids.iter().map(|id| GlobalId::decode_as(id, kind)).collect()
}

/// Checks a client's filter and turns it into the protocol's.
fn search_filter(filter: ProductFilter) -> ApiResult<SearchFilter> {
    let colors = filter.colors.unwrap_or_default();
    if colors.len() > MAX_FILTER_VALUES {
        return Err(ApiError::BadUserInput(format!(
            "colors takes at most {MAX_FILTER_VALUES} values"
        )));
    }
    let (min_price, max_price) = match filter.price {
        Some(range) => {
            if range.min.is_some_and(|m| m < 0) || range.max.is_some_and(|m| m < 0) {
                return Err(ApiError::BadUserInput(
                    "price bounds must not be negative".to_owned(),
                ));
            }
            if let (Some(min), Some(max)) = (range.min, range.max)
                && min > max
            {
                return Err(ApiError::BadUserInput(format!(
                    "price.min ({min}) is above price.max ({max})"
                )));
            }
            (range.min.map(i64::from), range.max.map(i64::from))
        }
        None => (None, None),
    };
    Ok(SearchFilter {
        brand_ids: ids_of(filter.brand_ids, Kind::Brand, "brandIds")?,
        category_ids: ids_of(filter.category_ids, Kind::Category, "categoryIds")?,
        shop_ids: ids_of(filter.shop_ids, Kind::Shop, "shopIds")?,
        colors: colors
            .into_iter()
            .map(|c| c.trim().to_lowercase())
            .collect(),
        min_price,
        max_price,
        on_sale: filter.on_sale,
    })
}

/// Search cursors hold the sort order and the hit's sort values; a cursor of another order
/// cannot continue this one.
///
/// The key is written as text, as `json!({ "s": …, "v": … })` prints it (one per hit of a
/// page, so no map is built), and cursors given out before stay valid.
pub(crate) fn encode_search_cursor(sort: ProductSort, values: &[Value]) -> String {
    let values = serde_json::to_string(values).unwrap_or_default();
    encode_cursor(
        SEARCH_CURSOR,
        &format!(r#"{{"s":"{sort:?}","v":{values}}}"#),
    )
}

fn decode_search_cursor(cursor: &str, sort: ProductSort) -> ApiResult<Vec<Value>> {
    let invalid = || ApiError::BadUserInput(format!("invalid cursor {cursor:?}"));
    let key: Value =
        serde_json::from_str(&decode_cursor(SEARCH_CURSOR, cursor)?).map_err(|_| invalid())?;
    if key["s"].as_str() != Some(format!("{sort:?}").as_str()) {
        return Err(ApiError::BadUserInput(
            "this cursor belongs to another sort order".to_owned(),
        ));
    }
    // Only what we issue: a finite sort value and a product id. Anything else would reach
    // the search backend as a malformed query.
    match key["v"].as_array().map(Vec::as_slice) {
        Some([value, id])
            if value.as_f64().is_some_and(f64::is_finite)
                && id.as_i64().is_some_and(|id| i32::try_from(id).is_ok()) =>
        {
            Ok(vec![value.clone(), id.clone()])
        }
        _ => Err(invalid()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn search_cursors_round_trip_and_refuse_other_orders() {
        let values = vec![json!(1.25), json!(42)];
        let cursor = encode_search_cursor(ProductSort::Relevance, &values);
        assert_eq!(
            decode_search_cursor(&cursor, ProductSort::Relevance).unwrap(),
            values
        );
        let printed = json!({ "s": "Relevance", "v": values }).to_string();
        assert_eq!(cursor, encode_cursor(SEARCH_CURSOR, &printed));
        let error = decode_search_cursor(&cursor, ProductSort::PriceAsc).unwrap_err();
        assert_eq!(error.code(), "BAD_USER_INPUT");
        for forged in [
            r#"{"s":"Relevance","v":[{"script":1},2]}"#,
            r#"{"s":"Relevance","v":["a",2]}"#,
            r#"{"s":"Relevance","v":[1,99999999999]}"#,
            r#"{"s":"Relevance","v":[1,2,3]}"#,
        ] {
            let forged = encode_cursor(SEARCH_CURSOR, forged);
            assert!(decode_search_cursor(&forged, ProductSort::Relevance).is_err());
        }
    }

    #[test]
    fn inverted_or_negative_price_ranges_are_bad_user_input() {
        for (min, max) in [(Some(500), Some(100)), (Some(-1), None), (None, Some(-5))] {
            let filter = ProductFilter {
                price: Some(types::PriceRange { min, max }),
                ..ProductFilter::default()
            };
            assert_eq!(search_filter(filter).unwrap_err().code(), "BAD_USER_INPUT");
        }
    }
}
