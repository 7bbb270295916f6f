//! Unit tests of the core over the in-memory catalog: batching, error codes and partial
//! results, without a database.

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use serde_json::{Value, json};

use super::{ApiConfig, Sources, build_schema};
use crate::protocols::{BrandRecord, CategoryRecord, ProductRecord, ShopRecord, SourceError};
use crate::sources::memory::{MemoryCatalog, MemoryCommunity, MemoryOffers, MemorySearch};

pub(super) fn catalog(products: i32) -> MemoryCatalog {
    let at = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let category = |id, parent_id, slug: &str| CategoryRecord {
        id,
        parent_id,
        slug: slug.to_owned(),
        name: slug.to_owned(),
        position: id,
    };
    MemoryCatalog::new(
        (1..=3)
            .map(|id| BrandRecord {
                id,
                slug: format!("brand-{id}"),
                name: format!("Brand {id}"),
                logo_url: None,
                created_at: at,
            })
            .collect(),
        (1..=2)
            .map(|id| ShopRecord {
                id,
                slug: format!("shop-{id}"),
                name: format!("Shop {id}"),
                domain: "shop.example".to_owned(),
                country: "DE".to_owned(),
                currency: "EUR".to_owned(),
            })
            .collect(),
        vec![
            category(1, None, "women"),
            category(2, Some(1), "women-shoes"),
            category(3, Some(2), "women-shoes-boots"),
            category(4, Some(2), "women-shoes-sneakers"),
        ],
        (1..=products)
            .map(|id| ProductRecord {
                id,
                brand_id: id % 3 + 1,
                shop_id: id % 2 + 1,
                category_id: 3 + id % 2,
                name: format!("Product {id}"),
                description: String::new(),
                color: "black".to_owned(),
                price_cents: 1000 + id,
                sale_price_cents: None,
                currency: "EUR".to_owned(),
                image_url: String::new(),
                deeplink_url: String::new(),
                like_count: 0,
                created_at: at,
                updated_at: at,
            })
            .collect(),
    )
}

async fn run(catalog: &Arc<MemoryCatalog>, query: &str) -> Value {
    run_with_search(
        catalog,
        &Arc::new(MemorySearch::new(catalog.clone())),
        query,
        ApiConfig::default(),
    )
    .await
}

async fn run_with_search(
    catalog: &Arc<MemoryCatalog>,
    search: &Arc<MemorySearch>,
    query: &str,
    config: ApiConfig,
) -> Value {
    let api = build_schema(
        Sources {
            catalog: catalog.clone(),
            search: search.clone(),
            offers: Arc::new(MemoryOffers::default()),
            community: Arc::new(MemoryCommunity::default()),
        },
        config,
    )
    .expect("the API builds");
    let response = api.execute(async_graphql::Request::new(query)).await;
    serde_json::to_value(&response).unwrap()
}

fn codes(response: &Value) -> Vec<&str> {
    response["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| e["extensions"]["code"].as_str().unwrap_or("<none>"))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn nested_fields_of_a_page_cost_one_call_per_entity_type() {
    let catalog = Arc::new(catalog(40));
    let response = run(
        &catalog,
        "{ category(slug: \"women\") { products(first: 40) { nodes {
            brand { name } shop { name } category { path { slug } } } } } }",
    )
    .await;
    assert!(response.get("errors").is_none(), "{response}");
    let nodes = response["data"]["category"]["products"]["nodes"]
        .as_array()
        .unwrap();
    assert_eq!(nodes.len(), 40);
    for method in [
        "category_products_first_pages",
        "brands_by_ids",
        "shops_by_ids",
        "category_paths",
    ] {
        assert_eq!(catalog.calls(method), 1, "{method}");
    }
    // A category whose path is selected is its path's last entry: no call of its own.
    assert_eq!(catalog.calls("categories_by_ids"), 0);
    // The total was not asked for, so it was not counted.
    assert_eq!(catalog.calls("category_products_counts"), 0);
    // Without its path, a category is loaded by id, once for the page.
    let response = run(
        &catalog,
        "{ category(slug: \"women\") { products(first: 40) { nodes { category { slug } } } } }",
    )
    .await;
    assert!(response.get("errors").is_none(), "{response}");
    assert_eq!(catalog.calls("categories_by_ids"), 1);
    assert_eq!(catalog.calls("category_paths"), 1);
}

#[tokio::test]
async fn connections_inside_a_list_cost_one_call_for_the_whole_list() {
    let catalog = Arc::new(catalog(30));
    let response = run(
        &catalog,
        "{ brands { nodes { products(first: 4) { totalCount nodes { name shop { name } } } } } }",
    )
    .await;
    assert!(response.get("errors").is_none(), "{response}");
    let brands = response["data"]["brands"]["nodes"].as_array().unwrap();
    assert_eq!(brands.len(), 3);
    // Products are spread over the three brands by `id % 3`: ten each.
    for brand in brands {
        assert_eq!(brand["products"]["totalCount"], 10);
        assert_eq!(brand["products"]["nodes"].as_array().unwrap().len(), 4);
    }
    for method in ["brand_products_first_pages", "shops_by_ids"] {
        assert_eq!(catalog.calls(method), 1, "{method}");
    }
    // The first pages came counted: no count of their own, no later pages.
    assert_eq!(catalog.calls("brand_products_counts"), 0);
    assert_eq!(catalog.calls("brand_products_page"), 0);
}

#[tokio::test]
async fn aliased_totals_share_one_count() {
    let catalog = Arc::new(catalog(5));
    let response = run(&catalog, "{ brands { a: totalCount b: totalCount } }").await;
    assert_eq!(response["data"]["brands"], json!({"a": 3, "b": 3}));
    assert_eq!(catalog.calls("brands_count"), 1);
}

#[tokio::test]
async fn a_failing_backend_nulls_only_its_fields_with_a_stable_code() {
    let catalog = Arc::new(catalog(5));
    catalog.fail(
        "root_categories",
        SourceError::Unavailable {
            backend: "mysql",
            detail: "connection refused to db-7.internal:3306".to_owned(),
        },
    );
    let response = run(&catalog, "{ categories { slug } brands { totalCount } }").await;
    assert_eq!(codes(&response), ["UPSTREAM_UNAVAILABLE"]);
    assert_eq!(response["errors"][0]["path"], json!(["categories"]));
    assert_eq!(response["data"]["categories"], Value::Null);
    assert_eq!(response["data"]["brands"]["totalCount"], 3);
    assert!(
        !response.to_string().contains("db-7.internal"),
        "backend details reached the client: {response}"
    );
}

#[tokio::test]
async fn a_slow_backend_is_an_upstream_timeout() {
    let catalog = Arc::new(catalog(5));
    catalog.fail(
        "products_by_ids",
        SourceError::Timeout {
            backend: "mysql",
            millis: 5000,
        },
    );
    let response = run(&catalog, "{ product(databaseId: 1) { name } }").await;
    assert_eq!(codes(&response), ["UPSTREAM_TIMEOUT"]);
    assert_eq!(response["data"]["product"], Value::Null);
}

#[tokio::test]
async fn nodes_keep_the_order_of_the_ids_and_batch_per_kind() {
    use super::ids::{GlobalId, Kind};
    let catalog = Arc::new(catalog(5));
    let ids = [
        GlobalId::new(Kind::Product, 4),
        GlobalId::new(Kind::Brand, 2),
        GlobalId::new(Kind::Product, 99),
        GlobalId::new(Kind::Product, 1),
    ]
    .map(|id| id.encode().0);
    let query = format!(
        "{{ nodes(ids: {}) {{ __typename ... on Product {{ databaseId }} ... on Brand {{ databaseId }} }} }}",
        serde_json::to_string(&ids).unwrap()
    );
    let response = run(&catalog, &query).await;
    assert_eq!(
        response["data"]["nodes"],
        json!([
            {"__typename": "Product", "databaseId": 4},
            {"__typename": "Brand", "databaseId": 2},
            null,
            {"__typename": "Product", "databaseId": 1},
        ])
    );
    assert_eq!(catalog.calls("products_by_ids"), 1);
    assert_eq!(catalog.calls("brands_by_ids"), 1);
}

/// Depth is the HTTP layer's to refuse, before parsing goes further (`http::document`,
/// where introspection has its own measure); cost is decided here, by the gate.
#[tokio::test]
async fn too_complex_queries_are_refused_before_any_backend_call() {
    let catalog = Arc::new(catalog(5));
    // 100 brands × 100 products × 4 fields: about 40,000 points.
    let wide = "{ brands(first: 100) { nodes { products(first: 100) { nodes { name databaseId \
                brand { name } } } } } }";
    let response = run(&catalog, wide).await;
    assert_eq!(
        response["errors"][0]["extensions"]["code"],
        crate::core::errors::code::COST_LIMIT_EXCEEDED
    );
    assert_eq!(catalog.calls("brands_page"), 0);
}

/// An API over `catalog` with `config`, to send several requests to.
pub(super) fn api_over(catalog: &Arc<MemoryCatalog>, config: ApiConfig) -> super::Api {
    let search = Arc::new(MemorySearch::new(catalog.clone()));
    build_schema(
        Sources {
            catalog: catalog.clone(),
            search,
            offers: Arc::new(MemoryOffers::default()),
            community: Arc::new(MemoryCommunity::default()),
        },
        config,
    )
    .expect("the API builds")
}

async fn run_on(api: &super::Api, query: &str, variables: Value) -> Value {
    let request = async_graphql::Request::new(query)
        .variables(async_graphql::Variables::from_json(variables));
    serde_json::to_value(api.execute(request).await).unwrap()
}

#[tokio::test]
async fn a_repeated_operation_is_still_refused_for_its_variables_and_its_cost() {
    let catalog = Arc::new(catalog(5));
    // A search (8000) and a few names, not 100.
    let config = ApiConfig {
        max_complexity: 8_050,
        ..ApiConfig::default()
    };
    let api = api_over(&catalog, config.clone());
    let query = "query P($first: Int, $sort: ProductSort!) { \
        searchProducts(first: $first, sort: $sort) { nodes { name } } }";
    let good = json!({ "first": 2, "sort": "NEWEST" });
    let first = run_on(&api, query, good.clone()).await;
    assert_eq!(
        first["data"]["searchProducts"]["nodes"]
            .as_array()
            .map(Vec::len),
        Some(2),
        "{first}"
    );
    // Once the operation has passed, bad variables get validation's own answer, as they
    // do from an API that has never seen the operation.
    for bad in [
        json!({ "first": 2, "sort": "CHEAPEST" }),
        json!({ "first": "2", "sort": "NEWEST" }),
        json!({ "first": 2, "sort": null }),
    ] {
        let fresh = run_on(&api_over(&catalog, config.clone()), query, bad.clone()).await;
        assert!(fresh["errors"].is_array(), "{fresh}");
        assert_eq!(run_on(&api, query, bad).await, fresh);
    }
    // The cost is the request's: more items than the maximum allows are refused.
    let costly = run_on(&api, query, json!({ "first": 100, "sort": "NEWEST" })).await;
    assert_eq!(
        codes(&costly),
        [crate::core::errors::code::COST_LIMIT_EXCEEDED]
    );
    assert_eq!(run_on(&api, query, good).await, first);
}

#[tokio::test]
async fn what_an_operation_requests_is_kept_with_its_plan_unless_a_variable_sizes_a_list() {
    let catalog = Arc::new(catalog(5));
    let api = api_over(&catalog, ApiConfig::default());
    let kept_for = |query: &str, variables: Value| {
        let variables = async_graphql::Variables::from_json(variables);
        let document = async_graphql::parser::parse_query(query).unwrap();
        let plan = api
            .engine
            .plan(query, &document, None, &variables, false)
            .unwrap();
        let read = api
            .engine
            .requested(Some(&plan), &document, None, &variables);
        (read.unwrap(), plan.requested())
    };
    // Sized by literals, and a variable that sizes nothing: the same for every request.
    let literal = "query L($id: ID!) { node(id: $id) { id } \
        searchProducts(first: 7) { nodes { name } } }";
    let (read, kept) = kept_for(literal, json!({ "id": "UHJvZHVjdDox" }));
    assert!(!read.variable_sized);
    assert_eq!(kept, Some(read));
    let (again, _) = kept_for(literal, json!({ "id": "UHJvZHVjdDoy" }));
    assert_eq!(again, read);
    // Sized by a variable: read anew for each request, never kept.
    let sized = "query S($first: Int) { searchProducts(first: $first) { nodes { name } } }";
    let (few, kept) = kept_for(sized, json!({ "first": 2 }));
    assert!(few.variable_sized);
    assert_eq!(kept, None);
    let (many, kept) = kept_for(sized, json!({ "first": 50 }));
    assert_eq!(kept, None);
    assert!(many.cost > few.cost, "{many:?} against {few:?}");
}

#[tokio::test]
async fn search_hits_are_hydrated_in_order_with_one_catalog_call_per_entity_type() {
    let catalog = Arc::new(catalog(30));
    let search = Arc::new(MemorySearch::new(catalog.clone()));
    let response = run_with_search(
        &catalog,
        &search,
        "{ searchProducts(query: \"product 1\", first: 5) { totalCount
            nodes { databaseId brand { name } } pageInfo { hasNextPage } } }",
        ApiConfig::default(),
    )
    .await;
    assert!(response.get("errors").is_none(), "{response}");
    let result = &response["data"]["searchProducts"];
    // "Product 1", "Product 10" … "Product 19": eleven names contain "product 1".
    assert_eq!(result["totalCount"], 11);
    let ids: Vec<i64> = result["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["databaseId"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [1, 10, 11, 12, 13]);
    assert_eq!(result["pageInfo"]["hasNextPage"], true);
    assert_eq!(search.calls("search"), 1);
    assert_eq!(catalog.calls("products_by_ids"), 1);
    assert_eq!(catalog.calls("brands_by_ids"), 1);
}

#[tokio::test]
async fn similar_on_every_product_of_a_page_costs_one_search_call() {
    let catalog = Arc::new(catalog(20));
    let search = Arc::new(MemorySearch::new(catalog.clone()));
    let response = run_with_search(
        &catalog,
        &search,
        "{ brands { nodes { products(first: 5) { nodes { similar(first: 3) { databaseId brand { name } } } } } } }",
        // What the document asks of the search is counted, not its cost, which `similar`
        // on every product puts above the default maximum.
        ApiConfig {
            max_complexity: 10_000_000,
            ..ApiConfig::default()
        },
    )
    .await;
    assert!(response.get("errors").is_none(), "{response}");
    assert_eq!(search.calls("similar"), 1);
    // Hydrating every similar product is one catalog call too.
    assert_eq!(catalog.calls("products_by_ids"), 1);
}

#[tokio::test]
async fn a_failing_search_nulls_only_the_search_fields() {
    let catalog = Arc::new(catalog(5));
    struct Down;
    #[async_trait::async_trait]
    impl crate::protocols::search::SearchSource for Down {
        async fn search(
            &self,
            _: &crate::protocols::search::SearchQuery,
        ) -> Result<crate::protocols::search::SearchPage, SourceError> {
            Err(SourceError::Unavailable {
                backend: "elasticsearch",
                detail: "es-3.internal refused".to_owned(),
            })
        }
        async fn similar(
            &self,
            _: &[(i32, u32)],
        ) -> Result<std::collections::HashMap<(i32, u32), Vec<i32>>, SourceError> {
            Err(SourceError::Timeout {
                backend: "elasticsearch",
                millis: 2000,
            })
        }
        async fn suggest(
            &self,
            _: &str,
            _: u32,
        ) -> Result<Vec<crate::protocols::search::Suggestion>, SourceError> {
            Err(SourceError::Unavailable {
                backend: "elasticsearch",
                detail: String::new(),
            })
        }
    }
    let api = build_schema(
        Sources {
            catalog: catalog.clone(),
            search: Arc::new(Down),
            offers: Arc::new(MemoryOffers::default()),
            community: Arc::new(MemoryCommunity::default()),
        },
        ApiConfig::default(),
    )
    .expect("the API builds");
    let response = api
        .execute(async_graphql::Request::new(
            "{ searchProducts(query: \"x\") { totalCount } product(databaseId: 1) { name similar { name } } }",
        ))
        .await;
    let response = serde_json::to_value(&response).unwrap();
    let mut codes = codes(&response);
    codes.sort();
    assert_eq!(codes, ["UPSTREAM_TIMEOUT", "UPSTREAM_UNAVAILABLE"]);
    assert_eq!(response["data"]["searchProducts"], Value::Null);
    assert_eq!(response["data"]["product"]["name"], "Product 1");
    assert_eq!(response["data"]["product"]["similar"], Value::Null);
    assert!(!response.to_string().contains("es-3.internal"));
}

async fn run_with_offers(
    catalog: &Arc<MemoryCatalog>,
    offers: &Arc<MemoryOffers>,
    config: ApiConfig,
    query: &str,
) -> Value {
    let api = build_schema(
        Sources {
            catalog: catalog.clone(),
            search: Arc::new(MemorySearch::new(catalog.clone())),
            offers: offers.clone(),
            community: Arc::new(MemoryCommunity::default()),
        },
        config,
    )
    .expect("the API builds");
    serde_json::to_value(api.execute(async_graphql::Request::new(query)).await).unwrap()
}

#[tokio::test]
async fn offers_of_a_page_are_one_partner_call_of_at_most_fifty_ids() {
    let catalog = Arc::new(catalog(120));
    let offers = Arc::new(MemoryOffers::default());
    let config = ApiConfig::default();
    let response = run_with_offers(
        &catalog,
        &offers,
        config,
        "{ category(slug: \"women\") { products(first: 100) { nodes { databaseId offers { stale offers { price { minorUnits } } } } } } }",
    )
    .await;
    assert!(response.get("errors").is_none(), "{response}");
    let calls = offers.calls();
    // The partner takes at most 50 ids a call, and no id is asked twice.
    assert!(calls.iter().all(|c| c.len() <= 50), "{calls:?}");
    let mut asked: Vec<i32> = calls.concat();
    asked.sort();
    asked.dedup();
    assert_eq!(
        asked.len(),
        calls.iter().map(Vec::len).sum::<usize>(),
        "an id asked twice"
    );
    assert_eq!(asked.len(), 100);
    for node in response["data"]["category"]["products"]["nodes"]
        .as_array()
        .unwrap()
    {
        let id = node["databaseId"].as_i64().unwrap();
        let list = node["offers"]["offers"].as_array().unwrap();
        assert_eq!(list.len(), usize::from(id % 10 != 0), "{node}");
        if let Some(offer) = list.first() {
            assert_eq!(offer["price"]["minorUnits"], id * 100);
        }
    }
}

#[tokio::test]
async fn cached_offers_spare_the_partner_and_stand_in_marked_stale_when_it_fails() {
    let catalog = Arc::new(catalog(5));
    let offers = Arc::new(MemoryOffers::default());
    let config = ApiConfig {
        offers_cache_ttl: std::time::Duration::from_millis(300),
        ..ApiConfig::default()
    };
    let api = build_schema(
        Sources {
            catalog: catalog.clone(),
            search: Arc::new(MemorySearch::new(catalog.clone())),
            offers: offers.clone(),
            community: Arc::new(MemoryCommunity::default()),
        },
        config,
    )
    .expect("the API builds");
    let query = "{ product(databaseId: 3) { offers { stale offers { shop } } } }";
    let run = || async {
        serde_json::to_value(api.execute(async_graphql::Request::new(query)).await).unwrap()
    };
    assert_eq!(run().await["data"]["product"]["offers"]["stale"], false);
    assert_eq!(run().await["data"]["product"]["offers"]["stale"], false);
    assert_eq!(
        offers.calls().len(),
        1,
        "the second answer came from the cache"
    );

    tokio::time::sleep(std::time::Duration::from_millis(350)).await;
    offers.fail(Some(SourceError::Timeout {
        backend: "partner",
        millis: 800,
    }));
    let response = run().await;
    assert!(response.get("errors").is_none(), "{response}");
    assert_eq!(response["data"]["product"]["offers"]["stale"], true);
    assert_eq!(
        response["data"]["product"]["offers"]["offers"][0]["shop"],
        "memory-shop"
    );
    assert_eq!(
        offers.calls().len(),
        2,
        "an expired entry asks the partner first"
    );

    // A product never fetched has nothing to stand in: null with the partner's error code.
    let response = serde_json::to_value(
        api.execute(async_graphql::Request::new(
            "{ product(databaseId: 4) { name offers { stale } } }",
        ))
        .await,
    )
    .unwrap();
    assert_eq!(codes(&response), ["UPSTREAM_TIMEOUT"]);
    assert_eq!(response["data"]["product"]["name"], "Product 4");
    assert_eq!(response["data"]["product"]["offers"], Value::Null);
    assert_eq!(response["errors"][0]["path"], json!(["product", "offers"]));
}

#[tokio::test]
async fn a_product_and_its_similar_products_get_their_offers_in_one_partner_call() {
    let catalog = Arc::new(catalog(40));
    let offers = Arc::new(MemoryOffers::default());
    let config = ApiConfig::default();
    let response = run_with_offers(
        &catalog,
        &offers,
        config,
        "{ product(databaseId: 1) { offers { stale } brand { name }
             similar(first: 8) { databaseId brand { name } offers { stale } } } }",
    )
    .await;
    assert!(response.get("errors").is_none(), "{response}");
    let similar = response["data"]["product"]["similar"].as_array().unwrap();
    assert_eq!(similar.len(), 8);
    let calls = offers.calls();
    assert_eq!(
        calls.len(),
        1,
        "one call for the product and its similar products: {calls:?}"
    );
    let mut asked = calls[0].clone();
    asked.sort();
    let mut expected: Vec<i32> = similar
        .iter()
        .map(|p| p["databaseId"].as_i64().unwrap() as i32)
        .collect();
    expected.push(1);
    expected.sort();
    assert_eq!(asked, expected);
}

fn community() -> Arc<MemoryCommunity> {
    use crate::protocols::community::{CollageItemRecord, CollageRecord, UserRecord};
    let at = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let users = (1..=3)
        .map(|id| UserRecord {
            id,
            username: format!("user{id}"),
            display_name: format!("User {id}"),
            avatar_url: None,
            created_at: at,
        })
        .collect();
    let community = MemoryCommunity::with_users(users);
    {
        let mut state = community.state.lock().unwrap();
        state.product_ids = (1..=20).collect();
        for id in 1..=6 {
            state.collages.push(CollageRecord {
                id,
                user_id: id % 3 + 1,
                title: format!("Look {id}"),
                description: String::new(),
                like_count: id,
                created_at: at,
                updated_at: at,
            });
            for position in 0..4 {
                state.items.push(CollageItemRecord {
                    collage_id: id,
                    position,
                    product_id: id + position,
                    x: 0.5,
                    y: 0.5,
                    scale: 1.0,
                });
            }
        }
    }
    Arc::new(community)
}

async fn run_as(community: &Arc<MemoryCommunity>, viewer: Option<i32>, query: &str) -> Value {
    let outcome = outcome_as(community, viewer, query).await;
    serde_json::to_value(outcome.into_response()).unwrap()
}

async fn outcome_as(
    community: &Arc<MemoryCommunity>,
    viewer: Option<i32>,
    query: &str,
) -> super::Outcome {
    let catalog = Arc::new(catalog(20));
    let api = build_schema(
        Sources {
            catalog: catalog.clone(),
            search: Arc::new(MemorySearch::new(catalog)),
            offers: Arc::new(MemoryOffers::default()),
            community: community.clone(),
        },
        ApiConfig::default(),
    )
    .expect("the API builds");
    let context = super::RequestContext {
        deadline: std::time::Instant::now() + std::time::Duration::from_secs(10),
        request_id: None,
        viewer: viewer.map(crate::protocols::auth::ViewerId),
        stats: crate::observe::RequestStats::new(crate::observe::Metrics::default()),
        cost: None,
        tagged: true,
    };
    api.execute_with(async_graphql::Request::new(query), context)
        .await
}

/// What the response cache keeps with an answer and drops on a write (`core::tags`): the
/// products and collages the answer holds, and what a like changed.
#[tokio::test]
async fn answers_name_the_objects_they_hold_and_writes_the_objects_they_changed() {
    use crate::core::tags::Tag;
    let community = community();
    let query = "{ collages(first: 2) { nodes { databaseId \
                 items(first: 2) { product { databaseId } } } } }";
    let read = outcome_as(&community, None, query).await;
    let data: Value = serde_json::from_str(&read.data).unwrap();
    let mut expected = Vec::new();
    for collage in data["collages"]["nodes"].as_array().unwrap() {
        expected.push(Tag::collage(collage["databaseId"].as_i64().unwrap() as i32));
        for item in collage["items"].as_array().unwrap() {
            let id = item["product"]["databaseId"].as_i64().unwrap() as i32;
            expected.push(Tag::product(id));
        }
    }
    expected.sort();
    expected.dedup();
    assert_eq!(read.tags, expected);
    assert!(read.changed.is_empty(), "a query changes nothing");

    let product = crate::core::ids::GlobalId::new(crate::core::ids::Kind::Product, 3).encode();
    let like = format!(
        "mutation {{ likeProduct(productId: \"{}\") {{ userErrors {{ code }} }} }}",
        product.as_str()
    );
    let liked = outcome_as(&community, Some(1), &like).await;
    assert_eq!(liked.changed, vec![Tag::product(3)]);
    let refused = outcome_as(&community, Some(1), &like.replace(product.as_str(), "x")).await;
    assert!(
        refused.changed.is_empty(),
        "a refused write changes nothing"
    );
}

#[tokio::test]
async fn the_feed_loads_authors_and_items_once_for_the_whole_page() {
    let community = community();
    let response = run_as(
        &community,
        None,
        "{ collages(first: 5, orderBy: POPULAR) { nodes { databaseId author { username } items(first: 2) { position } } } }",
    )
    .await;
    assert!(response.get("errors").is_none(), "{response}");
    let ids: Vec<i64> = response["data"]["collages"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["databaseId"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [6, 5, 4, 3, 2], "most liked first");
    assert_eq!(community.calls("users_by_ids"), 1);
    assert_eq!(community.calls("collage_items"), 1);
}

#[tokio::test]
async fn mutations_need_a_viewer_and_only_the_author_may_change_a_collage() {
    use super::ids::{GlobalId, Kind};
    let community = community();
    let collage = GlobalId::new(Kind::Collage, 1).encode().0; // by user 2
    let rename = format!(
        "mutation {{ updateCollage(input: {{id: \"{collage}\", title: \"Mine\"}}) {{ collage {{ title }} }} }}"
    );
    assert_eq!(
        codes(&run_as(&community, None, &rename).await),
        ["UNAUTHENTICATED"]
    );
    assert_eq!(
        codes(&run_as(&community, Some(3), &rename).await),
        ["FORBIDDEN"]
    );
    let response = run_as(&community, Some(2), &rename).await;
    assert_eq!(
        response["data"]["updateCollage"]["collage"]["title"],
        "Mine"
    );
}

#[tokio::test]
async fn invalid_collages_come_back_as_user_errors_and_are_not_written() {
    let community = community();
    let response = run_as(
        &community,
        Some(1),
        "mutation { createCollage(input: {title: \"\", items: []}) { collage { id } userErrors { field code } } }",
    )
    .await;
    assert_eq!(
        response["data"]["createCollage"]["userErrors"],
        json!([{"field": ["title"], "code": "LENGTH"}, {"field": ["items"], "code": "LENGTH"}])
    );
    assert_eq!(community.state.lock().unwrap().collages.len(), 6);
}

#[tokio::test]
async fn each_viewer_sees_only_their_own_likes() {
    let community = community();
    let like = "mutation { likeCollage(collageId: \"Q29sbGFnZTox\") { collage { likeCount viewerHasLiked } } }";
    let response = run_as(&community, Some(3), like).await;
    assert_eq!(
        response["data"]["likeCollage"]["collage"],
        json!({"likeCount": 2, "viewerHasLiked": true})
    );
    let read = "{ collage(id: \"Q29sbGFnZTox\") { likeCount viewerHasLiked } }";
    assert_eq!(
        run_as(&community, Some(2), read).await["data"]["collage"]["viewerHasLiked"],
        false
    );
    assert_eq!(
        run_as(&community, None, read).await["data"]["collage"]["viewerHasLiked"],
        false
    );
    assert_eq!(
        run_as(&community, Some(3), read).await["data"]["collage"]["viewerHasLiked"],
        true
    );
}

#[tokio::test]
async fn a_failed_field_is_null_in_place_and_its_parent_is_kept() {
    let catalog = Arc::new(catalog(5));
    let response = run(
        &catalog,
        "{ product(databaseId: 1) { name collages(after: \"bad\") { totalCount } } }",
    )
    .await;
    assert_eq!(codes(&response), ["BAD_USER_INPUT"], "{response}");
    assert_eq!(
        response["errors"][0]["path"],
        json!(["product", "collages"])
    );
    assert_eq!(
        response["data"],
        json!({"product": {"name": "Product 1", "collages": null}})
    );
}

#[tokio::test]
async fn nodes_of_several_kinds_come_back_in_order_with_one_load_per_kind() {
    let catalog = Arc::new(catalog(5));
    let id = |kind, id| crate::core::ids::GlobalId::new(kind, id).encode().0;
    use crate::core::ids::Kind;
    let query = format!(
        "{{ nodes(ids: [\"{}\", \"{}\", \"{}\", \"{}\"]) {{ __typename id \
         ... on Product {{ name }} ... on Brand {{ slug }} }} }}",
        id(Kind::Product, 2),
        id(Kind::Brand, 3),
        id(Kind::Product, 99),
        id(Kind::Product, 4),
    );
    let response = run(&catalog, &query).await;
    assert_eq!(
        response["data"]["nodes"],
        json!([
            {"__typename": "Product", "id": id(Kind::Product, 2), "name": "Product 2"},
            {"__typename": "Brand", "id": id(Kind::Brand, 3), "slug": "brand-3"},
            null,
            {"__typename": "Product", "id": id(Kind::Product, 4), "name": "Product 4"},
        ]),
        "{response}"
    );
    assert_eq!(catalog.calls("products_by_ids"), 1);
    assert_eq!(catalog.calls("brands_by_ids"), 1);
}

/// The engine over the declared schema of `modules`.
fn engine_of(modules: &[super::Module]) -> Result<super::engine::Engine, String> {
    let (schema, hints) = super::declared_schema(modules, &ApiConfig::default())?;
    super::build_engine(modules, schema, hints)
}

#[test]
fn the_engine_plans_queries_mutations_and_introspection() {
    let engine = engine_of(super::MODULES).expect("every declared field resolves");
    let plans = |query: &str| {
        let document = async_graphql::parser::parse_query(query).unwrap();
        engine
            .plan(query, &document, None, &Default::default(), false)
            .is_some()
    };
    assert!(plans(
        "{ collages(first: 2) { nodes { id author { username } } } }"
    ));
    assert!(plans("{ nodes(ids: []) { id ... on Product { name } } }"));
    assert!(plans(
        "mutation { likeProduct(productId: \"x\") { product { likeCount } userErrors { code } } }"
    ));
    assert!(plans("{ __schema { queryType { name } } }"));
    assert!(plans(
        "{ __type(name: \"Product\") { name } brands { totalCount } }"
    ));
    // Not valid operations: validation says why.
    assert!(!plans("{ unknownField }"));
    assert!(!plans("{ brands { __schema { description } } }"));
}

#[test]
fn a_declared_field_that_no_module_resolves_stops_the_build() {
    let (schema, hints) =
        super::declared_schema(super::MODULES, &ApiConfig::default()).expect("the schema");
    let without_offers: Vec<super::Module> = super::MODULES
        .iter()
        .filter(|m| m.name != "offers")
        .copied()
        .collect();
    let error = super::build_engine(&without_offers, schema, hints)
        .err()
        .expect("offers' fields are unresolved");
    assert!(
        error.contains("Product.offers is in the schema, and no module resolves it"),
        "{error}"
    );
}

#[test]
fn removing_a_module_removes_exactly_its_types_and_fields() {
    let everything = super::sdl().expect("the SDL");
    for (removed, its_types, its_fields) in [
        (
            "offers",
            &["ProductOffers", "Offer", "Availability"][..],
            &["offers: ProductOffers"][..],
        ),
        (
            "search",
            &["ProductSearchConnection", "Suggestion", "ProductFilter"],
            &["similar(", "searchProducts("],
        ),
        ("node", &[], &["node(id: ID!): Node", "nodes("]),
        (
            "community",
            &["User", "Collage", "CollageConnection", "Mutation"],
            &["viewerHasLiked: Boolean!", "viewer: User", "collages("],
        ),
    ] {
        let modules: Vec<super::Module> = super::MODULES
            .iter()
            .filter(|m| m.name != removed)
            .copied()
            .collect();
        let (schema, hints) = super::declared_schema(&modules, &ApiConfig::default())
            .unwrap_or_else(|e| panic!("without {removed}: {e}"));
        let sdl = super::schema_sdl(&schema);
        super::build_engine(&modules, schema, hints)
            .unwrap_or_else(|e| panic!("without {removed}: {e}"));
        for gone in its_types
            .iter()
            .map(|t| format!("type {t} "))
            .chain(its_fields.iter().map(|f| f.to_string()))
        {
            let gone = gone
                .replace("type Availability ", "enum Availability ")
                .replace("type ProductFilter ", "input ProductFilter ");
            assert!(everything.contains(&gone), "{gone} is in the whole schema");
            assert!(
                !sdl.contains(&gone),
                "without {removed}, {gone} is still there"
            );
        }
        // Everything else stays: every other line of the schema is still declared.
        let kept = sdl.lines().filter(|l| everything.contains(l)).count();
        assert_eq!(
            kept,
            sdl.lines().count(),
            "without {removed}, something changed"
        );
    }
}

#[test]
fn an_argument_type_unlike_the_schemas_is_found() {
    /// `PriceRange` without its `max`.
    #[derive(async_graphql::InputObject)]
    #[graphql(name = "PriceRange")]
    struct Narrower {
        min: Option<i32>,
    }
    let (schema, _) =
        super::declared_schema(super::MODULES, &ApiConfig::default()).expect("the schema");
    let mut narrower = super::engine::Registry::default();
    narrower.input::<Narrower>();
    let found = narrower.input_mismatches(schema.registry());
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].starts_with("PriceRange is"), "{found:?}");
    let mut modules = super::engine::Registry::default();
    for module in super::MODULES {
        (module.register)(&mut modules);
    }
    assert_eq!(
        modules.input_mismatches(schema.registry()),
        Vec::<String>::new()
    );
}
