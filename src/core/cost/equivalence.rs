//! The declared costs and cache hints against validation's, over generated documents.

#[path = "../../../tests/support/documents.rs"]
#[allow(dead_code)]
mod documents;

use std::sync::{Arc, Mutex};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextValidation,
};
use async_graphql::{CacheControl, Response, ServerError, ValidationResult};

use documents::{Fixture, Generator, Schema};

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Option<(usize, CacheControl)>>>);

impl ExtensionFactory for Capture {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(self.clone())
    }
}

#[async_trait::async_trait]
impl Extension for Capture {
    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let result = next.run(ctx).await?;
        *self.0.lock().unwrap() = Some((result.complexity, result.cache_control));
        Ok(result)
    }
    async fn execute(
        &self,
        _ctx: &ExtensionContext<'_>,
        _operation_name: Option<&str>,
        _next: NextExecute<'_>,
    ) -> Response {
        Response::default()
    }
}

#[tokio::test]
async fn declared_costs_and_hints_equal_validations() {
    let capture = Capture::default();
    let old = crate::core::schema_builder(&crate::core::ApiConfig::default())
        .extension(capture.clone())
        .finish();
    let (builder, hints) = crate::core::schema::build(&crate::core::fragments()).unwrap();
    let new = builder.finish().unwrap();
    let sdl = async_graphql::parser::parse_schema(crate::core::sdl()).unwrap();
    let schema = Schema::new(&sdl);
    let mut fixture = Fixture::default();
    for kind in ["Product", "Brand", "Shop", "Category", "User", "Collage"] {
        fixture.ids.insert(kind.to_owned(), (1..30).collect());
        fixture
            .slugs
            .insert(kind.to_owned(), vec!["a".into(), "b".into()]);
    }
    fixture.usernames = vec!["ann".into(), "bob".into()];
    fixture.tags = vec!["summer".into()];
    fixture.colors = vec!["navy".into()];
    fixture.words = vec!["dress".into(), "shoe".into()];
    fixture
        .cursors
        .insert("brands".into(), vec!["YnJhbmR8MQ".into()]);
    let mut documents: Vec<(String, serde_json::Value)> = Vec::new();
    for entry in std::fs::read_dir("operations").unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "graphql") {
            documents.push((
                std::fs::read_to_string(path).unwrap(),
                serde_json::json!({"u": "ann", "id": "x", "slug": "a", "first": 7}),
            ));
        }
    }
    for query in [
        "{ __schema { queryType { name } types { name kind fields(includeDeprecated: true) { name args { name defaultValue } type { name ofType { name ofType { name } } } } } } }",
        "{ __type(name: \"Product\") { name fields { name } } products: searchProducts(first: 3) { nodes { id } } }",
        "query($ids: [ID!]!) { nodes(ids: $ids) { id ... on Product { name offers { stale offers { shop } } similar { id } } ... on Collage { items { position } } } }",
    ] {
        documents.push((
            query.to_owned(),
            serde_json::json!({"ids": ["a", "b", "c"]}),
        ));
    }
    let mut generator = Generator::new(&schema, &fixture, 0x5eed);
    for _ in 0..3000 {
        let generated = generator.document();
        documents.push((generated.query, generated.variables));
    }
    let mut compared = 0;
    for (query, variables) in documents {
        let variables = async_graphql::Variables::from_json(variables);
        *capture.0.lock().unwrap() = None;
        let response = old
            .execute(async_graphql::Request::new(query.clone()).variables(variables.clone()))
            .await;
        let Some((complexity, cache)) = *capture.0.lock().unwrap() else {
            assert!(response.is_err(), "{query}");
            continue;
        };
        let document = async_graphql::parser::parse_query(&query).unwrap();
        let requested =
            super::requested::requested(new.registry(), &hints, &document, None, &variables)
                .expect(&query);
        let cap = u32::MAX as u64;
        assert_eq!(
            (complexity as u64).min(cap),
            requested.cost.min(cap),
            "{query}\n{variables}"
        );
        assert_eq!(cache, requested.cache_control, "{query}");
        compared += 1;
    }
    eprintln!("compared {compared}");
}
